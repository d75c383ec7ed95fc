"""One library function per exercise command: `grade`, `generate`, `check_problem` (`cnncalc check`) and
`problem_key` (`cnncalc key`) take what the command line takes, do the whole job (read, check, grade or
generate, write the outputs) and return a result object that the CLI only prints. Library users get
exactly what the command does:

>>> from cnncalc.exercises.service import GRADEBOOK_FORMATS
>>> GRADEBOOK_FORMATS
('csv', 'canvas', 'moodle')
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..arguments import one_or_many
from ..errors import CnnCalcError

if TYPE_CHECKING:
    from .variants import Variant

GRADEBOOK_FORMATS = ("csv", "canvas", "moodle")
#: what generate writes into a sheet's answer template (variants.data_fingerprint); other values in an
#: answer file's `variant:` are not a generated sheet's and are left as they are
FINGERPRINT = re.compile(r"[0-9a-f]{10}")


@dataclass
class GradeRun:
    """What one `grade` run found: every file's result, the warnings, the copy flags and (with `stats`)
    the class view. ``exit_code`` is the command's: 0 all graded, 1 some files invalid."""

    problem: Any
    results: list[Any]
    warnings: list[str]
    copies: list[Any] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    written: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)  # the answer file of each result, as found on disk
    recorded: Any = None  # what a course's gradebook recorded of the run (cnncalc.course.RecordResult)

    @property
    def graded(self) -> list[Any]:
        return [result for result in self.results if result.error is None]

    @property
    def invalid(self) -> int:
        return len(self.results) - len(self.graded)

    @property
    def exit_code(self) -> int:
        refused = self.recorded is not None and bool(self.recorded.refused)
        return 1 if self.invalid or refused else 0

    def document(self) -> dict[str, Any]:
        """The `--format json` document."""
        from .report import results_document

        document = results_document(self.results, self.warnings)
        document["copies"] = [pair.as_dict() for pair in self.copies]
        if self.recorded is not None:
            document["recorded"] = self.recorded.as_dict()
        if self.stats is not None:
            document["stats"] = self.stats
        return document

    def text(self, quiet: bool = False) -> str:
        """The text report (one line per student with `quiet`), then the class view when asked for."""
        from .report import quiet_report, text_report

        text = quiet_report(self.results, self.warnings) if quiet else text_report(self.problem, self.results,
                                                                                     self.warnings)
        if self.stats is not None:
            from .stats import stats_text

            text += "\n" + stats_text(self.stats)
        if self.recorded is not None:
            recorded = self.recorded
            text += (f"# course gradebook: recorded {len(recorded.recorded)} file(s) for {recorded.assignment} "
                     f"(run {recorded.run_id})\n")
            text += "".join(f"  not recorded: {file}: {reason.removeprefix('not recorded: ')}\n"
                            for file, reason in recorded.refused if not self._invalid_file(file))
        return text

    def _invalid_file(self, shown: str) -> bool:
        """Whether a refused file is one the report already lists as invalid."""
        return any(r.error is not None and (r.file == shown or shown.endswith(r.file)) for r in self.results)


class NothingGraded(CnnCalcError):
    """No answer file could be graded: nothing was written. Carries the run, so its report can be shown."""

    def __init__(self, run: GradeRun, gradebook: str | None) -> None:
        kept = " (the gradebook was not written)" if gradebook else ""
        super().__init__(f"none of the {len(run.results)} answer file(s) could be graded{kept}")
        self.run = run


def check_gradebook_options(gradebook: str | None, gradebook_format: str, lms_id_column: str | None,
                            assignment: str | None) -> None:
    from .report import LMS_ID_COLUMNS

    if gradebook_format not in GRADEBOOK_FORMATS:
        raise CnnCalcError("unknown gradebook format", got=gradebook_format, expected=", ".join(GRADEBOOK_FORMATS))
    if gradebook_format != "csv":
        if not gradebook:
            raise CnnCalcError(f"--gradebook-format {gradebook_format} needs --gradebook FILE")
        columns = LMS_ID_COLUMNS[gradebook_format]
        if lms_id_column is not None and lms_id_column not in columns:
            raise CnnCalcError(f"--lms-id-column: {gradebook_format} has no such identifier column",
                               got=lms_id_column, expected=", ".join(columns))
    elif lms_id_column is not None or assignment is not None:
        raise CnnCalcError("--lms-id-column and --assignment go with --gradebook-format canvas or moodle")


def grade(problem: str, answers: str | Sequence[str], *, gradebook: str | None = None, gradebook_format: str = "csv",
          lms_id_column: str | None = None, assignment: str | None = None, feedback_dir: str | None = None,
          overrides: str | None = None, secret_file: str | None = None, variants: bool = False,
          stats: bool = False, latest: bool = False, report: Callable[[GradeRun], None] | None = None,
          from_lms: str | None = None, attempts: str | None = None) -> GradeRun:
    """Grade answer files (files, folders or globs) against the problem's computed key, as `cnncalc grade`.

    Two files of one student are both invalid (named, with exit 1), unless ``latest`` takes the one
    submitted last (by modification time, then name) and leaves the other out with a warning.
    ``report`` is called with the run once every file is graded and before anything is written: the
    command prints its report there, so a report that cannot be delivered (a full disk) writes nothing.
    Writes the gradebook and the feedback files when at least one file was graded; raises
    :class:`NothingGraded` (nothing written, an existing gradebook untouched) when none was, and
    CnnCalcError for a usage error before anything is graded.
    """
    from . import grade_batch, load_problem
    from .copies import copy_check_results
    from .files import answer_paths
    from .overrides import apply_overrides, check_overrides, read_overrides
    from .report import (
        check_output_file,
        check_output_folder,
        gradebook_csv,
        lms_gradebook,
        write_atomic,
        write_feedback,
    )

    if from_lms is not None and latest:
        raise CnnCalcError("--latest goes with answer files; with --from, --attempts last|best|first chooses")
    if from_lms is None and attempts is not None:
        raise CnnCalcError("--attempts goes with --from (an LMS report's attempts); --latest with answer files")
    answers = one_or_many(answers) if from_lms is None else []
    check_gradebook_options(gradebook, gradebook_format, lms_id_column, assignment)
    if gradebook:
        check_output_file(gradebook, "--gradebook")
    if feedback_dir:
        check_output_folder(feedback_dir, "--feedback-dir")
    loaded = load_problem(problem)
    instructor = read_overrides(overrides, loaded) if overrides else None
    paths, refused = answer_paths(answers) if from_lms is None else ([Path(from_lms)], {})
    if not paths:
        raise CnnCalcError("no answer files found", got=list(answers)[:5], expected="answer files (.yaml, .yml, .json)")
    inputs = [problem, *paths, overrides, secret_file]  # a gradebook never replaces one of them
    if gradebook:
        from ..outputs import check_output

        check_output(gradebook, inputs, create_folders=True)
    if from_lms is not None:
        # an LMS's response export (`--from`): its attempts are the answer files, all recorded as coming
        # from the export; from here on they are graded, checked and written as answer files are
        results, warnings, copies = _lms_results(loaded, from_lms, secret_file, variants, attempts or "last")
        paths = [Path(from_lms)] * len(results)
    elif secret_file or variants:
        from .variants import grade_variants, read_secret

        results, warnings, copies = grade_variants(loaded.raw, loaded.source, paths, read_secret(secret_file),
                                                   refused)
    else:
        results, warnings = grade_batch(loaded, paths, refused=refused)
        _refuse_variants_without_a_secret(loaded, results)
        copies, flags = copy_check_results(loaded, results)
        warnings += flags
    if from_lms is None:
        results, kept_paths, resolved = _one_file_per_student(results, paths, latest)
        warnings += resolved
    else:
        kept_paths = paths
    run = GradeRun(loaded, results, warnings, copies, paths=kept_paths)
    if instructor is not None and run.graded:
        check_overrides(results, instructor)
        apply_overrides(results, instructor)
    if stats:
        from .stats import class_stats

        run.stats = class_stats(loaded, results)
    if report is not None:
        report(run)
    if not run.graded:
        raise NothingGraded(run, gradebook)
    if gradebook:
        text = (gradebook_csv(loaded, results) if gradebook_format == "csv" else
                lms_gradebook(loaded, results, gradebook_format, lms_id_column, assignment))
        write_atomic(gradebook, text, durable=True, through_link=True, inputs=inputs)
        run.written.append(gradebook)
    if feedback_dir:
        run.written += [str(path) for path in write_feedback(loaded, results, feedback_dir)]
    return run


def _lms_results(loaded: Any, responses: str, secret_file: str | None, variants: bool, attempts: str = "last"
                 ) -> tuple[list[Any], list[str], list[Any]]:
    """`grade --from`: each finished attempt of an LMS report graded against its variant, one per student
    kept by ``attempts`` (see :mod:`.lms.responses`)."""
    from .copies import copy_check_results
    from .grading import identity_warnings
    from .lms.responses import grade_responses
    from .variants import read_secret

    secret = read_secret(secret_file) if secret_file or variants else None
    results, chosen = grade_responses(loaded.raw, loaded.source, responses, secret, attempts)
    warnings = identity_warnings(results)
    copies, flags = copy_check_results(loaded, results)
    return results, chosen + warnings + flags, copies


def _one_file_per_student(results: list[Any], paths: list[Path], latest: bool
                          ) -> tuple[list[Any], list[Path], list[str]]:
    """A student's grade comes from one file: several files of one id are never two gradebook rows."""
    import os

    from .grading import display_path

    stamps: dict[int, tuple[int, str]] = {}
    for position, (result, path) in enumerate(zip(results, paths)):
        try:
            stamps[position] = (os.stat(path).st_mtime_ns, str(path))
        except OSError:
            stamps[position] = (0, str(path))
    groups: dict[str, list[int]] = {}
    for position, result in enumerate(results):
        if result.error is None:
            groups.setdefault(result.student, []).append(position)
    dropped: set[int] = set()
    warnings = []
    for student, positions in groups.items():
        if len(positions) < 2:
            continue
        real = {position: os.path.realpath(paths[position]) for position in positions if position < len(paths)}
        once: dict[str, int] = {}
        for position in sorted(positions, key=lambda position: (Path(paths[position]).is_symlink(), position)):
            if real.get(position) in once:  # a link to another file of the batch: one submission, graded once
                dropped.add(position)
                warnings.append(f"{display_path(results[position].file)} is a link to "
                                f"{display_path(results[once[real[position]]].file)}: graded once")
            else:
                once[real.get(position, str(position))] = position
        positions = [position for position in positions if position not in dropped]
        if len(positions) < 2:
            continue
        ordered = sorted(positions, key=lambda position: stamps.get(position, (0, "")))
        names = ", ".join(display_path(results[p].file) for p in ordered)
        if latest:
            last = ordered[-1]
            dropped.update(ordered[:-1])
            chosen = (f"{display_path(student)}: graded {display_path(results[last].file)} (submitted last, "
                      f"--latest), not {', '.join(display_path(results[p].file) for p in ordered[:-1])}")
            warnings.append(chosen)
            # the duplicate is settled: the row keeps the choice, not a DUPLICATE flag
            results[last].warnings = [w for w in results[last].warnings if not w.startswith("duplicate student id ")]
            results[last].warnings.append(chosen)
            continue
        reason = f"{len(positions)} files for student {display_path(student)!r} (--latest grades the last): {names}"
        for position in positions:
            results[position].error = reason
            results[position].warnings.append(reason)
    kept = [position for position in range(len(results)) if position not in dropped]
    return [results[p] for p in kept], [paths[p] for p in kept if p < len(paths)], warnings


def _refuse_variants_without_a_secret(problem: Any, results: list[Any]) -> None:
    """Answers made on per-student variants graded against the problem's own data would all be marked
    against the wrong key (a class mean of 2.5 instead of 7.5, and exit 0): every answer file carries its
    sheet's fingerprint, so a fingerprint that is not the original data's means the secret was forgotten."""
    from .variants import data_fingerprint

    original = data_fingerprint(problem.id, problem.version, problem.raw.get("data"))
    foreign = [r for r in results if r.error is None and r.variant is not None and r.variant != original
               and FINGERPRINT.fullmatch(r.variant)]
    if foreign:
        from .grading import display_path

        shown = ", ".join(f"{display_path(r.file)} ({r.variant})" for r in foreign[:3])
        raise CnnCalcError(
            f"{len(foreign)} of {len(results)} answer file(s) carry the fingerprint of a generated variant, not "
            f"of the problem's own data ({original}): {shown}",
            hint="grade against each student's variant with the course secret: --secret-file FILE (or "
                 "CNNCALC_SECRET with --variants); nothing was graded or written")


@dataclass
class GenerateRun:
    """What one `generate` run wrote."""

    folder: Path
    labels: list[str]
    removed: list[str]
    warnings: list[str]

    def text(self) -> str:
        text = (f"wrote {len(self.labels)} sheet(s) to {self.folder / 'sheets'} and their keys to "
                f"{self.folder / 'keys'} (keep keys/ away from students)\n")
        if self.removed:
            text += (f"removed {len(self.removed)} file(s) of an earlier run: " + ", ".join(self.removed[:5])
                     + (" ..." if len(self.removed) > 5 else "") + "\n")
        return text


def generate(problem: str, out: str, *, seed: int | None = None, count: int = 1, roster: str | None = None,
             secret_file: str | None = None, format: str = "markdown", force: bool = False,
             students: str | Sequence[str] | None = None, secret: bytes | None = None) -> GenerateRun:
    """One sheet per variant in ``out/sheets`` and the keys apart in ``out/keys``, as `cnncalc generate`;
    ``students`` and ``secret`` stand for a roster file and a secret file already read (a course's)."""
    from ..spec import safeload
    from .files import read_roster
    from .sheets import write_variants
    from .variants import check_original, read_secret, seed_variant, student_variant

    if (seed is None) == (roster is None and students is None):
        raise CnnCalcError("give either --seed N or --roster CSV (with --secret-file)")
    raw = safeload.load_file(problem)
    check_original(raw, problem)  # the whole file, before a folder is touched
    if not raw.get("vary") and seed is not None and count > 1:
        raise CnnCalcError(f"the problem has no 'vary:' section: all {count} variants would be the same",
                           file=problem, hint="add a vary: section, or give --count 1")
    folder = Path(out)
    warnings: list[str] = []
    make: list[Callable[[], Variant]]
    if seed is not None:  # (else a roster or students, as checked above)
        labels = [f"variant-{seed}-{i}" for i in range(count)]
        make = [functools.partial(seed_variant, raw, problem, seed, i) for i in range(count)]
    else:
        secret = secret if secret is not None else read_secret(secret_file)
        labels = one_or_many(students) if students is not None else read_roster(str(roster), warnings)
        make = [functools.partial(student_variant, raw, problem, secret, student) for student in labels]
    removed = write_variants(folder, labels, make, format, force, inputs=[problem, roster, secret_file])
    return GenerateRun(folder, labels, removed, warnings)


@dataclass
class ProblemCheck:
    """A problem file checked (`cnncalc check`): its key with the worked solutions (``document``: answers
    and solutions by question id) and what a student needs that the sheet does not show (``warnings``)."""

    variant: Any
    varies: bool
    document: dict[str, Any]
    warnings: list[str]

    def json(self) -> str:
        problem = self.variant.problem
        return json.dumps({"problem": problem.id, "version": problem.version, "title": problem.title,
                           "questions": len(problem.questions), "points": problem.max_points, "varies": self.varies,
                           "answers": self.document["answers"], "solutions": self.document["solutions"],
                           "warnings": self.warnings}, ensure_ascii=False)

    def text(self) -> str:
        """The title, then each question's key and worked solution (the warnings and the verdict apart)."""
        problem = self.variant.problem
        lines = [f"{problem.title} ({problem.id}, version {problem.version}): {len(problem.questions)} questions, "
                 f"{problem.max_points:g} points" + (", varies" if self.varies else "")]
        for qid, solution in self.document["solutions"].items():
            answer = self.document["answers"].get(qid, "(manual)")
            lines.append(f"\n{qid}: {json.dumps(answer, ensure_ascii=False)}")
            lines += [f"    {line}" for line in solution]
        return "".join(f"{line}\n" for line in [*lines, ""])

    def verdict(self) -> str:
        return f"ok, {len(self.warnings)} warning(s)" if self.warnings else "ok, no warnings"


def check_problem(problem: str) -> ProblemCheck:
    """Check a problem file as `cnncalc check`: its structure, its key (computed from its own data), a first
    variant when it has `vary:` (the constraints can be met), and the sheet's warnings. A file that cannot
    be used raises CnnCalcError.

    >>> checked = check_problem(str(Path(__file__).parents[2] / "problems" / "cnn-layers-worksheet.yaml"))
    >>> checked.document["answers"]["c.total_params"], checked.document["answers"]["d.padding"], checked.warnings
    (348, 3, [])
    """
    from ..spec import safeload
    from .check import sheet_warnings
    from .sheets import key_document
    from .variants import check_original, seed_variant

    raw = safeload.load_file(problem)
    variant = check_original(raw, problem)
    if raw.get("vary"):
        seed_variant(raw, problem, 0, 0)  # the constraints can be met
    warnings = sheet_warnings(variant.problem)
    return ProblemCheck(variant, bool(raw.get("vary")), key_document(variant), warnings)


@dataclass
class ProblemKey:
    """One variant's key (`cnncalc key`): ``document`` holds the answers and worked solutions by question id."""

    variant: Any
    document: dict[str, Any]

    def json(self) -> str:
        from .sheets import key_json

        return key_json(self.variant)

    def text(self) -> str:
        lines = [f"{self.variant.problem.title} — variant {self.variant.fingerprint} ({self.variant.label})"]
        for qid, solution in self.document["solutions"].items():
            lines.append(f"\n{qid}: {self.document['answers'].get(qid, '(manual)')}")
            lines += [f"    {line}" for line in solution]
        return "".join(f"{line}\n" for line in lines)


def problem_key(problem: str, *, student: str | None = None, secret_file: str | None = None,
                seed: int | None = None, index: int = 0) -> ProblemKey:
    """The key and worked solutions of one variant, as `cnncalc key`: the student's (with the course secret
    from ``secret_file`` or CNNCALC_SECRET), the one made with ``seed`` (and ``index``), or, with neither,
    the file's own data.

    >>> key = problem_key(str(Path(__file__).parents[2] / "problems" / "cnn-layers-worksheet.yaml"), seed=1)
    >>> key.variant.label, key.document["answers"]["a.shape"]
    ('variant-1-0', [4, 4])
    """
    from ..spec import safeload
    from .sheets import key_document
    from .variants import check_original, read_secret, seed_variant, student_variant

    raw = safeload.load_file(problem)
    if student is not None and seed is not None:
        raise CnnCalcError("give --student or --seed, not both")
    variant = check_original(raw, problem)
    if (student is not None or seed is not None) and not raw.get("vary"):
        raise CnnCalcError("the problem has no 'vary:' section: it has one variant, its own data", file=problem,
                           hint="run without --student and --seed")
    if student is not None:
        variant = student_variant(raw, problem, read_secret(secret_file), student)
    elif seed is not None:
        variant = seed_variant(raw, problem, seed, index)
    return ProblemKey(variant, key_document(variant))


@dataclass
class PracticeSheet:
    """A practice sheet written (`cnncalc practice --sheet N`)."""

    path: str
    questions: list[Any]
    format: str

    def text(self) -> str:
        return f"wrote {self.path}: {len(self.questions)} question(s), {self.format}\n"


def practice_questions(count: int, *, level: int = 1, topic: Sequence[str] | None = None,
                       seed: int | None = None) -> tuple[list[Any], int]:
    """New practice questions and the seed they were made with (a random one when none is given)."""
    from .practice import generate

    if seed is None:
        import secrets

        seed = secrets.randbelow(1_000_000)
    return generate(count=count, level=level, topic=topic, seed=seed), seed


def practice(count: int = 5, *, level: int = 1, topic: Sequence[str] | None = None, seed: int | None = None,
             input: Any, output: Any, echo: bool = False) -> Any:
    """`cnncalc practice`: ask ``count`` new questions one at a time, reading answers from ``input`` and
    writing to ``output`` (anything with ``readline`` and ``write``); returns the score."""
    from .practice.terminal import practise

    questions, seed = practice_questions(count, level=level, topic=topic, seed=seed)
    output.write(f"practice: {len(questions)} question(s), level {level}, seed {seed} (--seed {seed} asks "
                 "them again)\n\n")
    return practise(questions, input, output, echo=echo)


def practice_sheet(count: int, output: str, *, level: int = 1, topic: Sequence[str] | None = None,
                   seed: int | None = None, format: str = "html") -> PracticeSheet:
    """`cnncalc practice --sheet N -o FILE`: a sheet of ``count`` new questions, answers at the end
    (Markdown, LaTeX) or checked in the browser (HTML)."""
    from ..render.files import write_text
    from .practice.sheet import FORMATS, SUFFIXES, render

    if format not in FORMATS:
        raise CnnCalcError("unknown sheet format", got=format, expected=", ".join(FORMATS))
    questions, seed = practice_questions(count, level=level, topic=topic, seed=seed)
    write_text(output, render(questions, format, level, seed), SUFFIXES[format])
    return PracticeSheet(output, questions, format)


@dataclass
class QuizExport:
    """What one LMS export wrote (`generate --format moodle|canvas|prairielearn`)."""

    path: Path
    format: str
    variants: int

    def text(self) -> str:
        what = {"moodle": "Moodle XML question bank", "canvas": "Canvas QTI package",
                "prairielearn": "PrairieLearn question folder"}[self.format]
        return f"wrote {self.path}: {what}, {self.variants} variant(s)\n"


def export_quiz(problem: str, out: str, format: str, *, count: int | None = None, seed: int | None = None,
                roster: str | None = None, secret_file: str | None = None, secret: bytes | None = None,
                force: bool = False) -> QuizExport:
    """The problem's variants as a quiz for an LMS, as `cnncalc generate --format moodle|canvas|prairielearn`:
    ``count`` variants (``lms-1`` … drawn from the course secret, or ``variant-SEED-N`` with ``seed``), or as
    many as the ``roster`` has students (the LMS draws one at random per student, so no student id is
    written). ``out`` is the XML file (moodle), the zip (canvas) or the folder that gets the question folder
    (prairielearn)."""
    from ..spec import safeload
    from .files import read_roster
    from .lms import FORMATS
    from .lms.export import export
    from .variants import check_original

    if format not in FORMATS:
        raise CnnCalcError("unknown LMS format", got=format, expected=", ".join(FORMATS))
    if roster is not None and count is not None:
        raise CnnCalcError("give --roster or --count, not both")
    raw = safeload.load_file(problem)
    check_original(raw, problem)
    if roster is not None:
        count = len(read_roster(roster, []))
    count = 1 if count is None else count
    return export(raw, problem, out, format, count=count, seed=seed, secret_file=secret_file, secret=secret,
                  force=force, inputs=[problem, roster, secret_file])
