"""Drawing the variants of an export and rebuilding one from its tag (the back-import)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import CnnCalcError
from ..variants import MAX_VARIANTS, Variant, check_original, read_secret, seed_variant, student_variant
from .common import QuizVariant, quiz_variant

_SEEDED = re.compile(r"variant-(\d{1,19})-(\d{1,6})")


def draw_variants(raw: dict[str, Any], source: str, count: int, seed: int | None = None,
                  secret_file: str | None = None, secret: bytes | None = None) -> list[Variant]:
    """``count`` variants: ``variant-SEED-N`` with a seed, else ``lms-N`` from the course secret (seeded as a
    student of that id is); a problem without ``vary:`` has one, its own data (``original``)."""
    return list(each_variant(raw, source, count, seed, secret_file, secret))


def each_variant(raw: dict[str, Any], source: str, count: int, seed: int | None = None,
                 secret_file: str | None = None, secret: bytes | None = None) -> Iterator[Variant]:
    """:func:`draw_variants` one at a time (the count, the file and the secret checked first): an export
    writes each variant and lets it go, instead of holding a thousand keys at once."""
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_VARIANTS:
        raise CnnCalcError("bad variant count", got=count, expected=f"1 to {MAX_VARIANTS:,}")
    if not raw.get("vary"):
        if count > 1:
            raise CnnCalcError(f"the problem has no 'vary:' section: all {count} variants would be the same",
                               file=source, hint="add a vary: section, or give --count 1")
        return iter([check_original(raw, source)])
    original = check_original(raw, source)  # once, not once per variant
    if seed is not None:
        return (seed_variant(raw, source, seed, i, original=original) for i in range(count))
    key = secret if secret is not None else read_secret(secret_file)
    width = max(4, len(str(count)))
    return (student_variant(raw, source, key, f"lms-{i:0{width}d}", original=original)
            for i in range(1, count + 1))


def rebuild(raw: dict[str, Any], source: str, label: str, secret: bytes | None) -> Variant:
    """The variant an export tagged ``label``: ``original``, ``variant-SEED-N`` (no secret needed) or
    ``lms-N`` (from the course secret; refused without one)."""
    if label == "original":
        return check_original(raw, source)
    seeded = _SEEDED.fullmatch(label)
    if seeded:
        return seed_variant(raw, source, int(seeded.group(1)), int(seeded.group(2)))
    if secret is None:
        raise CnnCalcError(f"the responses name variants drawn from the course secret ({label}, …)",
                           hint="give --secret-file FILE (or set CNNCALC_SECRET with --variants); nothing was "
                                "graded or written")
    return student_variant(raw, source, secret, label)


def export(raw: dict[str, Any], source: str, out: str, format: str, *, count: int, seed: int | None,
           secret_file: str | None, secret: bytes | None, force: bool, inputs: list[Any]) -> Any:
    from ..service import QuizExport

    drawn = each_variant(raw, source, count, seed, secret_file, secret)
    if format == "moodle":  # written as drawn: one variant's key and figures in memory at a time
        from ...outputs import write_output
        from .moodle import moodle_xml

        written = []

        def quiz() -> Iterator[QuizVariant]:
            for variant in drawn:
                written.append(variant.label)
                yield quiz_variant(variant)

        write_output(out, moodle_xml(quiz()), inputs=inputs)
        return QuizExport(Path(out), format, len(written))
    variants = [quiz_variant(v) for v in drawn]
    path = write(variants, out, format, force=force, inputs=inputs)
    return QuizExport(path, format, len(variants))


def write(variants: list[QuizVariant], out: str, format: str, *, force: bool = False,
          inputs: list[Any] | None = None) -> Path:
    from ...outputs import write_output

    inputs = inputs or []
    if format == "moodle":
        from .moodle import moodle_xml

        write_output(out, moodle_xml(variants), inputs=inputs)
        return Path(out)
    if format == "canvas":
        from .canvas import canvas_zip

        write_output(out, canvas_zip(variants), inputs=inputs)
        return Path(out)
    from .prairielearn import write_question

    return write_question(variants, Path(out), force=force, inputs=inputs)
