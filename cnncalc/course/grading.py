"""`grade --course`: grade as the stateless command does, with the course's secret, and record the run in
the course's gradebook before anything else is written."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..exercises import service
from .course import open_course
from .overrides import record_override_file
from .record import record_grades


def grade_in_course(course_folder: str | Path | None, problem: str, answers: Sequence[str], *,
                    latest: bool = False, allow_unlisted: bool = False, overrides: str | None = None,
                    secret_file: str | None = None, report: Callable[[service.GradeRun], None] | None = None,
                    **options: Any) -> service.GradeRun:
    """Grade ``answers`` like :func:`cnncalc.exercises.service.grade` and record every graded file in the
    course (``course_folder``, or the course around the current folder). The secret comes from the course
    unless ``secret_file`` is given; students not on the roster are refused (``allow_unlisted`` records them
    as such); overrides given as a file are stored and survive every regrade. Recording happens before the
    report and before any other output, in one transaction: a run that fails records nothing."""
    with open_course(course_folder) as course:
        if secret_file is None and course.secret_file is not None:
            secret_file = str(course.secret_file)
        elif secret_file is None and os.environ.get("CNNCALC_SECRET"):
            options["variants"] = True  # a course without a secret file: the secret from the environment
        if overrides is not None:
            # the file's overrides are checked against the batch by the stateless grade; stored, they apply
            # in the gradebook to every later run
            options["overrides"] = overrides

        def record_then_report(run: service.GradeRun) -> None:
            run.recorded = record_grades(course, run.problem, run.results, run.paths, copies=run.copies,
                                         latest=latest, allow_unlisted=allow_unlisted)
            if overrides is not None:
                record_override_file(course, run.problem, overrides)
            if report is not None:
                report(run)

        return service.grade(problem, answers, secret_file=secret_file, latest=latest, report=record_then_report,
                             **options)
