"""`generate --course`: one sheet per student of the course's roster, with the course's secret."""

from __future__ import annotations

from pathlib import Path

from ..exercises import service
from ..exercises.variants import read_secret
from .course import open_course


def generate_for_course(course_folder: str | Path | None, problem: str, out: str, *, secret_file: str | None = None,
                        format: str = "markdown", force: bool = False) -> service.GenerateRun:
    """Sheets and keys for every student on the roster (listed students only), as `generate --roster` with
    the course's roster and secret; ``secret_file`` overrides the course's."""
    with open_course(course_folder) as course:
        secret = read_secret(secret_file) if secret_file is not None else course.secret()
        students = course.roster_ids()
        if secret_file is None and course.secret_file is not None:
            secret_file = str(course.secret_file)  # an input: no sheet may replace it
    return service.generate(problem, out, students=students, secret=secret, format=format, force=force,
                            secret_file=secret_file)
