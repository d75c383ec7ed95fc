"""Finding answer files and reading rosters (the file handling behind `grade` and `generate`)."""

from __future__ import annotations

import csv
import glob
from pathlib import Path

from ..errors import CnnCalcError
from ..spec import safeload


def answer_paths(items: list[str]) -> list[Path]:
    """Files, folders (their .yaml/.yml/.json files) and globs, in a stable order, without repeats."""
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".json") and p.is_file())
        elif path.exists():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(item))
            if not found:
                raise CnnCalcError("no answer files match", file=item)
        paths.extend(p for p in found if p not in paths)
    return paths


def read_roster(path: str) -> list[str]:
    """Student ids from a CSV: the `student` (or `id`) column, or the first column without a header."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            text = handle.read(safeload.MAX_BYTES + 1)
    except OSError as error:
        raise CnnCalcError(f"cannot read the roster: {error.strerror}", file=path) from None
    except UnicodeDecodeError:
        raise CnnCalcError("the roster is not UTF-8 text", file=path) from None
    rows = [row for row in csv.reader(text.splitlines()) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise CnnCalcError("the roster is empty", file=path)
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(name) for name in ("student", "id", "student_id") if name in header), None)
    body = rows[1:] if column is not None else rows
    column = column or 0
    students = [row[column].strip() for row in body if len(row) > column and row[column].strip()]
    seen: set[str] = set()
    for student in students:
        if student in seen:
            raise CnnCalcError("duplicate student id in the roster", file=path, got=student)
        seen.add(student)
    return students
