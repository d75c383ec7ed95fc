"""Arithmetic below the layers: the floor formula and padding rules (arith), the safe expression parser
(expr) and vectorised NumPy building blocks (kernels)."""
