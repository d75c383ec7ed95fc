"""How ``v1/`` and ``v2/`` (courses made by the schema-version-1 and -2 gradebooks) were made — kept for the
record; the committed files are never regenerated: tests/test_course_store.py opens them as every later
cnncalc must. A new schema version adds its own folder, made with this script (``expected-vN.json`` beside).

It holds: a roster with hostile and unicode ids, the worksheet graded twice for one student (the earlier
submission superseded), a per-student-variant assignment with a copy flag that was dismissed, an unlisted
student, a student override, an answer-group override and a cleared override. ``expected-vN.json`` is the
class table (``show``) and one history as they were then.

Run: python tests/data/course/make_fixture.py OUT_FOLDER
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def main(out: Path) -> None:
    from cnncalc import course as C
    from cnncalc.exercises import compute_key, grade_batch, load_problem
    from cnncalc.exercises.key import key_answers
    from cnncalc.exercises.variants import grade_variants, student_variant
    from cnncalc.spec import safeload

    work = Path(tempfile.mkdtemp())
    roster = work / "roster.csv"
    roster.write_text('id,name,email,section\nada,Ada Lovelace,ada@example.org,A\nbo,Bo Li,bo@example.org,B\n'
                      '"q\'""; DROP TABLE students; --",Robert Tables,bobby@example.org,A\n'
                      'Jos\u00e9,Jos\u00e9 Pe\u00f1a,jose@example.org,B\n0012345,Zero Lead,zero@example.org,A\n',
                      encoding="utf-8")
    C.init_course(out, roster)
    hostile = "q'\"; DROP TABLE students; --"
    worksheet = load_problem(ROOT / "problems" / "cnn-layers-worksheet.yaml")
    right = key_answers(worksheet, compute_key(worksheet))
    answers = work / "ws"
    answers.mkdir()

    def write(name: str, student: str, changes: dict, mtime: int) -> Path:
        path = answers / name
        path.write_text(json.dumps({"student": student, "answers": {**right, **changes}}, ensure_ascii=False))
        os.utime(path, (mtime, mtime))
        return path

    first = [write("ada.json", "ada", {}, 1_700_000_000),
             write("bo.json", "bo", {"a.col4_row4": 2, "b.relu": [[0]]}, 1_700_000_100),
             write("jose.json", "Jose\u0301", {"d.padding": 3.5}, 1_700_000_200),  # NFD: the roster's José
             write("hostile.json", hostile, {}, 1_700_000_300),
             write("zed.json", "zed", {"c.total_params": 1}, 1_700_000_400)]
    with C.open_course(out) as course:
        results, _ = grade_batch(worksheet, first)
        C.record_grades(course, worksheet, results, first, allow_unlisted=True)
        later = write("bo-v2.json", "bo", {"b.relu": [[0]]}, 1_700_001_000)
        results, _ = grade_batch(worksheet, [later])
        C.record_grades(course, worksheet, results, [later])
        C.override(course, "bo", "b.relu", "0.25", "regrade: the sheet's map was misprinted")
        C.override(course, None, "d.padding", "0.125", "half credit for p = f/2", answer=3.5)
        C.override(course, "ada", "a.shape", "0", "wrong test")
        C.override(course, "ada", "a.shape", None, "", clear=True)

        source = str(ROOT / "problems" / "filter-bank.yaml")
        raw = safeload.load_file(source)
        secret = b"fixture secret, not a real course's"
        folder = work / "fb"
        folder.mkdir()
        students = ["ada", "bo", hostile, "Jos\u00e9", "0012345"]
        variants = {s: student_variant(raw, source, secret, s) for s in students}
        paths = []
        for position, student in enumerate(students):
            taken = variants["ada"] if student == hostile else variants[student]
            path = folder / f"f{position}.json"
            path.write_text(json.dumps({"student": student, "variant": variants[student].fingerprint,
                                        "answers": key_answers(taken.problem, taken.key)}, ensure_ascii=False))
            os.utime(path, (1_700_002_000 + position, 1_700_002_000 + position))
            paths.append(path)
        results, _, copies = grade_variants(raw, source, paths, secret, {})
        from cnncalc.exercises import load_problem as load

        C.record_grades(course, load(source), results, paths, copies=copies)
        flag = C.flags(course).flags[0]
        C.flags(course, dismiss=flag.id, reason="worked together in the lab, allowed")
        expected = {"show": C.show(course).as_dict(), "history_bo": _stable(C.history(course, "bo").as_dict())}
    from cnncalc.course.store import SCHEMA_VERSION

    expected_file = out.parent / f"expected-v{SCHEMA_VERSION}.json"
    expected_file.write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")


def _stable(history: dict) -> dict:
    """A history without what depends on when and where the fixture was made."""
    for item in history["submissions"]:
        for key in ("file", "graded", "cnncalc_version"):
            item.pop(key)
    for item in history["overrides"]:
        for key in ("created", "author", "cleared_at", "cleared_by"):
            item.pop(key)
    return history


if __name__ == "__main__":
    main(Path(sys.argv[1]))
