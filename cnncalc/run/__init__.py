"""Execution on real numbers: the NumPy reference executor (executor) and image input/output (images)."""
