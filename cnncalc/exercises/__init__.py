"""Exercises: problem files, computed answer keys, grading, feedback."""

from .grading import StudentResult, grade_batch, grade_file
from .key import compute_key
from .problem import Problem, load_problem

__all__ = ["Problem", "StudentResult", "compute_key", "grade_batch", "grade_file", "load_problem"]
