"""Details of the LMS exports and the practice sheet that the broader tests pass over: a PrairieLearn question
folder written again, a Canvas answer quoted at its limit, the practice sheet's closing controls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnncalc import CnnCalcError
from cnncalc.exercises.lms.responses import canvas_parts
from cnncalc.exercises.service import export_quiz, practice_sheet

ROOT = Path(__file__).resolve().parents[1]
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"


def test_a_prairielearn_question_is_written_again_without_force_and_a_foreign_folder_is_not(tmp_path):
    first = export_quiz(str(WORKSHEET), str(tmp_path), "prairielearn", seed=2, count=2).path
    again = export_quiz(str(WORKSHEET), str(tmp_path), "prairielearn", seed=3, count=2).path
    assert again == first and (Path(again) / "info.json").is_file()
    (Path(first) / "info.json").unlink()  # now a folder cnncalc did not write (other files in it)
    with pytest.raises(CnnCalcError, match="the question folder exists and is not a PrairieLearn question"):
        export_quiz(str(WORKSHEET), str(tmp_path), "prairielearn", seed=3, count=2)
    export_quiz(str(WORKSHEET), str(tmp_path), "prairielearn", seed=3, count=2, force=True)


def test_a_canvas_answer_that_cannot_be_placed_is_quoted_to_80_characters():
    response = ",".join(["1" * 30] * 4)
    with pytest.raises(CnnCalcError, match="the answer has 4 blank") as error:
        canvas_parts(response, 2)
    assert error.value.got == response[:80] and len(response) > 80
    assert canvas_parts("3, 4", 2) == {1: "3", 2: "4"}
    assert canvas_parts("", 2) == {1: "", 2: ""}


def test_the_practice_sheet_ends_with_its_check_all_button_and_score(tmp_path):
    out = tmp_path / "sheet.html"
    practice_sheet(2, str(out), level=1, seed=4, format="html")
    text = out.read_text()
    assert re.search(r'</section>\s*<p><button type="button" id="check-all">Check all</button></p>'
                     r'<p id="score" role="status"></p>\s*<script type="application/json" id="practice-data">', text)
