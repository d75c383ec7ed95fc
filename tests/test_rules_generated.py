"""The rules of `generate`'s output folder (exercises/generated.py), each with the exact message a user reads.

`generate` owns the files it wrote (recorded with their SHA-256 in a manifest), overwrites and removes only
those, and refuses, naming the files, when one was edited or was never its own.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from cnncalc.errors import ExerciseError
from cnncalc.exercises.generated import MANIFEST, OutputFolder

TARGETS = ["sheets/a.md", "keys/a.json"]


def _run(folder: Path, files: dict[str, str], force: bool = False) -> list[str]:
    out = OutputFolder(folder, force=force)
    out.plan(list(files))
    for name, text in files.items():
        out.write(name, text)
    return out.finish()


def _refusal(folder: Path, files: list[str], force: bool = False) -> str:
    with pytest.raises(ExerciseError) as caught:
        OutputFolder(folder, force=force).plan(files)
    return str(caught.value)


def test_the_manifest_records_each_file_with_its_sha256(tmp_path):
    _run(tmp_path / "out", {"sheets/a.md": "sheet A", "keys/a.json": "{}"})
    document = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert document["generator"] == "cnncalc generate" and document["format"] == 1
    assert document["files"] == {"keys/a.json": hashlib.sha256(b"{}").hexdigest(),
                                 "sheets/a.md": hashlib.sha256(b"sheet A").hexdigest()}
    assert list(document) == ["generator", "format", "note", "files"]


def test_three_edited_files_are_all_named_and_a_fourth_is_counted(tmp_path):
    folder = tmp_path / "out"
    names = [f"sheets/{k}.md" for k in range(5)]
    _run(folder, {name: "original" for name in names})
    for name in names[:3]:
        (folder / name).write_text("edited by hand")
    message = _refusal(folder, names)
    assert message == (f"{folder}: would overwrite or remove files generate did not write: "
                       "sheets/0.md (edited since generate wrote it); sheets/1.md (edited since generate wrote it); "
                       "sheets/2.md (edited since generate wrote it); give --force to write into it anyway")
    (folder / names[3]).write_text("edited too")
    message = _refusal(folder, names)
    assert message.endswith("sheets/2.md (edited since generate wrote it); and 1 more; "
                            "give --force to write into it anyway"), message
    assert "sheets/3.md" not in message
    (folder / names[4]).write_text("and this")
    assert "; and 2 more; " in _refusal(folder, names)


def test_a_file_generate_never_wrote_and_a_stale_edited_one_are_named(tmp_path):
    folder = tmp_path / "out"
    _run(folder, {"sheets/old.md": "old"})
    (folder / "sheets" / "old.md").write_text("edited")
    (folder / "keys").mkdir()
    (folder / "keys" / "a.json").write_text("mine")
    message = _refusal(folder, TARGETS)
    assert ("keys/a.json (not written by generate); sheets/old.md (edited since; it would be removed as stale)"
            in message), message
    assert _run(folder, {name: "new" for name in TARGETS}, force=True) == []  # edited: kept even with --force
    assert (folder / "sheets" / "old.md").read_text() == "edited"


def test_stale_unedited_files_are_removed_and_reported(tmp_path):
    folder = tmp_path / "out"
    _run(folder, {"sheets/old.md": "old", "sheets/a.md": "a"})
    assert _run(folder, {"sheets/a.md": "a2"}) == ["sheets/old.md"]
    assert not (folder / "sheets" / "old.md").exists()


def test_a_linked_or_file_subfolder_is_refused_naming_it(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / "sheets").symlink_to(elsewhere)
    message = _refusal(folder, TARGETS, force=True)
    assert message.startswith(f"{folder / 'sheets'}: 'sheets' in the output folder is not a plain folder"), message
    (folder / "sheets").unlink()
    (folder / "keys").write_text("a file")
    assert _refusal(folder, TARGETS, force=True).startswith(f"{folder / 'keys'}: 'keys' in the output folder")


def test_an_unreadable_file_is_one_error_naming_it(tmp_path, monkeypatch):
    folder = tmp_path / "out"
    _run(folder, {"sheets/a.md": "a"})
    original = Path.lstat

    def denied(self):
        if self.name == "a.md":
            raise PermissionError(13, "Permission denied")
        return original(self)

    monkeypatch.setattr(Path, "lstat", denied)
    assert _refusal(folder, ["sheets/a.md"]) == f"{folder / 'sheets' / 'a.md'}: cannot read: Permission denied"


def test_a_stale_file_that_cannot_be_removed_is_one_error_naming_it(tmp_path, monkeypatch):
    folder = tmp_path / "out"
    _run(folder, {"sheets/old.md": "old"})
    out = OutputFolder(folder)
    out.plan(["sheets/new.md"])
    out.write("sheets/new.md", "new")

    def busy(path):
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(os, "unlink", busy)
    with pytest.raises(ExerciseError) as caught:
        out.finish()
    assert str(caught.value) == f"{folder / 'sheets' / 'old.md'}: cannot remove a stale file: Device or resource busy"


def test_a_damaged_manifest_is_refused_and_with_force_trusted_for_nothing(tmp_path):
    folder = tmp_path / "out"
    _run(folder, {"sheets/a.md": "a", "sheets/old.md": "old"})
    (folder / MANIFEST).write_text('{"files": {"../escape": null}}')
    assert _refusal(folder, TARGETS) == (f"{folder}: {MANIFEST} is damaged or not generate's; "
                                         "give --force to write into it anyway")
    assert _run(folder, {"sheets/a.md": "a2"}, force=True) == []  # nothing removed on a manifest not trusted
    assert (folder / "sheets" / "old.md").exists()


def test_a_folder_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "out"
    target.write_text("x")
    assert _refusal(target, TARGETS) == (f"{target}: --out is a file, not a folder; give a folder for sheets/ "
                                         "and keys/")
