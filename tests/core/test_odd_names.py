"""Any file name, any entry in the folder (issue 20, items 4 and 8).

A name whose bytes are not UTF-8 (old archives, shared drives) is processed like any other: its output
keeps the bytes, every message shows it escaped, the store and the recipe hold it and give it back.
Entries named like photos that are not readable files (broken links, FIFOs, sockets, folders, files we
may not read) are named with the reason in the batch's report, never skipped silently."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest
from PIL import Image

import packshot.core.images
from packshot.core.errors import ImageReadError, user_message
from packshot.core.images import load_photo, scan_photos
from packshot.core.project import ProjectStore
from packshot.core.recipe import read_recipe
from tests.core.batch_helpers import product_photo, run_batch, tree_hashes

ODD = os.fsdecode(b"caf\xe9")  # Latin-1 "café": not UTF-8, so Python holds the byte as a lone surrogate


def _photo(path: Path, seed: int = 0) -> Path:
    Image.fromarray(product_photo(seed=seed)).save(path, "JPEG", quality=92)
    return path


@pytest.fixture
def unreadable(monkeypatch):
    """Paths the process may not read (we run as root, which ignores permission bits: os.access says so)."""
    denied: set[str] = set()
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if os.fspath(path) in denied and mode & os.R_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    return denied


# -- names that are not UTF-8 ----------------------------------------------------------------------------

def test_a_name_that_is_not_utf8_goes_through_the_batch(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    _photo(folder / f"{ODD}.jpg")
    _photo(folder / "plain.jpg", seed=1)
    before = tree_hashes(folder)
    out = tmp_path / "out"
    code = run_batch([str(folder), "--out", str(out), "--no-progress"])
    said = capsys.readouterr()
    assert code == 0, said.out + said.err
    assert "unexpected" not in (said.out + said.err).lower() and "Traceback" not in said.err
    assert sorted(os.listdir(os.fsencode(out)))[1:] == [b"caf\xe9.png", b"plain.png"]  # the bytes are kept
    assert tree_hashes(folder) == before
    store = ProjectStore(out)
    assert {p.path.name: p.status for p in store.photos()} == {f"{ODD}.jpg": "done", "plain.jpg": "done"}
    recipe = read_recipe(out / f"{ODD}.png")  # the embedded recipe names the original exactly
    assert recipe.input_path == str((folder / f"{ODD}.jpg").resolve())
    assert run_batch([str(folder), "--out", str(out), "--no-progress"]) == 0  # resumes: found in the store
    assert "Skipped (already done): 2" in capsys.readouterr().out


def test_a_failure_on_such_a_name_is_reported_escaped(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / f"{ODD}.jpg").write_bytes(b"")
    _photo(folder / "plain.jpg")
    code = run_batch([str(folder), "--out", str(tmp_path / "out"), "--no-progress"])
    said = capsys.readouterr().out
    assert code == 1
    assert "caf\\xe9.jpg: the file is empty (0 bytes)." in said
    record = {p.path.name: p for p in ProjectStore(tmp_path / "out").photos()}[f"{ODD}.jpg"]
    assert record.status == "failed" and record.error.startswith("caf\\xe9.jpg: the file is empty")


def test_the_log_file_takes_such_a_name(tmp_path):
    import logging

    from packshot.core import logfile

    path = logfile.setup_file_logging(tmp_path / "log")
    logging.getLogger("packshot.core.test").warning("reading %s", tmp_path / f"{ODD}.jpg")
    logfile.flush()
    assert "caf\\udce9.jpg" in Path(path).read_text(encoding="utf-8")


# -- entries that are not photo files ------------------------------------------------------------------

def test_every_photo_named_entry_gets_an_answer(tmp_path, monkeypatch, unreadable):
    monkeypatch.chdir(tmp_path)  # a socket's path must be short
    folder = Path("in")
    folder.mkdir()
    good = _photo(folder / "good.jpg")
    (folder / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    (folder / "loop.jpg").symlink_to("loop.jpg")
    (folder / "linked.jpg").symlink_to(good.resolve())
    os.mkfifo(folder / "pipe.png")
    (folder / "album.jpg").mkdir()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock.png"))
    _photo(folder / "locked.jpg")
    unreadable.add(str(folder / "locked.jpg"))
    (folder / ".hidden.jpg").write_bytes(b"")  # hidden: not a photo
    (folder / "notes.txt").write_text("not named like a photo")
    try:
        listing = scan_photos(folder)
    finally:
        server.close()
    assert [p.name for p in listing.photos] == ["good.jpg", "linked.jpg"]
    assert {s.path.name: s.reason for s in listing.skipped} == {
        "album.jpg": "a folder, not a photo",
        "broken.jpg": f"a link to {tmp_path / 'gone.jpg'}, which does not exist (a broken link)",
        "locked.jpg": "cannot read it: permission denied",
        "loop.jpg": "a link that leads back to itself (a link loop)",
        "pipe.png": "a named pipe (FIFO), not a file",
        "sock.png": "a socket, not a file",
    }


@pytest.mark.timeout(300)  # reading the FIFO would block for ever
def test_the_batch_names_what_it_cannot_read_and_does_the_rest(tmp_path, capsys, unreadable):
    folder = tmp_path / "in"
    folder.mkdir()
    _photo(folder / "good.jpg")
    (folder / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    os.mkfifo(folder / "pipe.png")
    _photo(folder / "locked.jpg")
    unreadable.add(str(folder / "locked.jpg"))
    out = tmp_path / "out"
    code = run_batch([str(folder), "--out", str(out), "--no-progress"])
    said = capsys.readouterr().out
    assert code == 1  # something needs the user's attention
    assert (out / "good.png").is_file() and not (out / "locked.png").exists()
    assert "Done: 1" in said and "Failed: 3" in said
    for line in (f"broken.jpg: a link to {tmp_path / 'gone.jpg'}, which does not exist (a broken link)",
                 "pipe.png: a named pipe (FIFO), not a file", "locked.jpg: cannot read it: permission denied"):
        assert f"  - {line}" in said


def test_a_folder_of_only_unreadable_entries_is_one_error(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    assert run_batch([str(folder), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"No photo in {folder} can be read: broken.jpg: a link to" in err and "Traceback" not in err


# -- permission errors ---------------------------------------------------------------------------------

def test_a_photo_we_may_not_read_says_so(tmp_path, monkeypatch):
    path = _photo(tmp_path / "a.jpg")
    real = Path.read_bytes

    def denied(self):
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ImageReadError, match=r"^a\.jpg: cannot read it: permission denied\.$"):
        load_photo(path)


def test_a_permission_error_on_a_file_we_read_is_not_called_a_write_problem(tmp_path, unreadable):
    path = _photo(tmp_path / "background.jpg")
    unreadable.add(str(path))
    said = user_message(PermissionError(errno.EACCES, "Permission denied", str(path)))
    assert said == f"Cannot read {path}: permission denied."
    folder = tmp_path / "out"
    folder.mkdir()
    assert "not writable" in user_message(PermissionError(errno.EACCES, "Permission denied", str(folder)))


def test_a_photo_that_cannot_be_read_mid_batch_fails_alone(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    locked = _photo(folder / "a.jpg")
    _photo(folder / "b.jpg", seed=1)
    real = Path.read_bytes

    def denied(self):
        if self == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(packshot.core.images.Path, "read_bytes", denied)
    assert run_batch([str(folder), "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    said = capsys.readouterr().out
    assert "a.jpg: cannot read it: permission denied." in said and "unexpected" not in said.lower()
    assert (tmp_path / "out" / "b.png").is_file()


def test_masks_command_and_its_review_csv_take_such_a_name(tmp_path, capsys):
    from packshot.core.cli.main import main

    folder = tmp_path / "in"
    folder.mkdir()
    _photo(folder / f"{ODD}.jpg")
    assert main(["masks", str(folder), "--out", str(tmp_path / "masks")]) == 0, capsys.readouterr().err
    assert os.path.isfile(os.fsencode(tmp_path / "masks") + b"/caf\xe9.png")
    assert (tmp_path / "masks" / "review.csv").read_text(encoding="utf-8").splitlines()[1].startswith(
        "caf\\xe9.jpg,caf\\xe9.png,")
