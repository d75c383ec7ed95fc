"""Analysis of a network: one walk of the DAG for per-layer records and totals (analysis), and sympy
work on symbolic sizes (symbolic)."""
