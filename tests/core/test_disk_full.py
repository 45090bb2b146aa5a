"""A full disk stops the batch with one clear line, loses nothing, and the same command resumes.

Two ways to fill the disk: a patched ``fsync`` that fails with ENOSPC in the middle of the batch
(outputs and masks go through ``packshot.core.images.write_atomic``), and a real 3 MB tmpfs (root only) that
fills up under the outputs and the SQLite project store.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import pytest
from PIL import Image

from packshot.core.errors import DISK_FULL_FIX, DiskFullError, ProjectStoreError
from packshot.core.project import NewResult, ProjectStore
from tests.core.batch_helpers import tree_hashes, write_photos

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--no-progress", "--variants", "2", "--engine", "gradient", "--masker", "classic", "--format", "png"]


def _cli(argv: list[str]) -> int:
    from packshot.core.cli.main import main

    return main(argv)


def _outputs(out: Path) -> dict[str, str]:
    """Every output file (and nothing else at the top level), by content."""
    return {name: digest for name, digest in tree_hashes(out).items() if "/" not in name}


def _assert_consistent(out: Path) -> None:
    assert not [p for p in out.rglob("*") if p.name.startswith((".tmp-", ".packshot-tmp-"))]  # no half-written file
    for path in out.glob("*.png"):
        with Image.open(path) as im:
            im.load()  # every output that exists is complete
    store = ProjectStore(out)
    assert sqlite3.connect(store.path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for photo in store.photos():  # 'done' always means its files exist
        if photo.status == "done":
            assert all(r.output_path.is_file() for r in store.results(photo.id))
    store.close()


class _FullAfter:
    """A stand-in for ``packshot.core.images.os`` whose ``fsync`` fails with ENOSPC after ``n`` successes."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.failures = 0

    def module(self) -> types.SimpleNamespace:
        def fsync(fd: int) -> None:
            if self.left <= 0:
                self.failures += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.left -= 1
            os.fsync(fd)

        names = {k: getattr(os, k) for k in dir(os) if not k.startswith("__")}
        return types.SimpleNamespace(**(names | {"fsync": fsync}))


def test_patched_full_disk_stops_the_batch_then_resumes_to_identical_outputs(tmp_path, monkeypatch, capsys):
    import packshot.core.images

    inp = tmp_path / "in"
    write_photos(inp, 4, size=(96, 72))
    originals = tree_hashes(inp)
    reference = tmp_path / "reference"
    assert _cli(["batch", str(inp), "--out", str(reference), *ARGS]) == 0
    capsys.readouterr()

    out = tmp_path / "out"
    # per photo: mask, mask snapshot, one output (a plain engine writes one file for --variants 2)
    full = _FullAfter(4)  # -> the disk fills in photo 2
    with monkeypatch.context() as patch:
        patch.setattr(packshot.core.images, "os", full.module())
        code = _cli(["batch", str(inp), "--out", str(out), *ARGS])
    captured = capsys.readouterr()
    assert code == 1
    assert full.failures == 1  # the batch stopped at the first failure instead of trying every photo
    assert f"packshot: error: {DISK_FULL_FIX}" in captured.err
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 1
    _assert_consistent(out)
    store = ProjectStore(out)
    statuses = [p.status for p in store.photos()]
    assert statuses.count("done") == 1 and "failed" not in statuses  # nothing recorded as a bad photo
    assert store.runs()[-1]["status"] == "disk full"
    store.close()

    assert _cli(["batch", str(inp), "--out", str(out), *ARGS]) == 0  # space is back: the same command
    assert "Failed: 0" in capsys.readouterr().out
    _assert_consistent(out)
    assert _outputs(out) == _outputs(reference)
    assert tree_hashes(inp) == originals


def test_a_full_disk_in_the_project_store_rolls_back_and_says_so(tmp_path, monkeypatch):
    store = ProjectStore(tmp_path / "out")
    photo = store.add_photo(tmp_path / "a.jpg")
    (tmp_path / "out" / "a.png").write_bytes(b"x")
    result = NewResult(variant=1, seed=0, engine="white", output_path=tmp_path / "out" / "a.png", recipe={})
    real_connect = sqlite3.connect

    class FullConnection(sqlite3.Connection):
        def execute(self, sql, *args):  # type: ignore[override]
            if sql.startswith("INSERT INTO results"):
                raise sqlite3.OperationalError("database or disk is full")
            return super().execute(sql, *args)

    store.close()
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, factory=FullConnection, **k))
    with pytest.raises(DiskFullError, match=DISK_FULL_FIX):
        store.complete_photo(photo, "key", [result])
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    store.close()
    again = ProjectStore(tmp_path / "out")
    assert again.photo(photo).status == "pending" and again.results(photo) == []  # all or nothing
    again.complete_photo(photo, "key", [result])
    assert again.photo(photo).status == "done"


def test_a_damaged_store_is_a_project_store_error(tmp_path):
    (tmp_path / ".packshot").mkdir()
    (tmp_path / ".packshot" / "project.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ProjectStoreError, match="move the .packshot folder away|damaged"):
        ProjectStore(tmp_path)


# -- a real full file system -------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MB tmpfs, or a skip where mounting is not permitted (not root, no CAP_SYS_ADMIN, no tmpfs)."""
    mount_point = tmp_path / "fulldisk"
    mount_point.mkdir()
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _run(inp: Path, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "packshot.core.cli.main", "batch", str(inp), "--out", str(out), *ARGS],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_real_full_disk_stops_cleanly_and_resumes(tmp_path, tiny_disk):
    inp = tmp_path / "in"
    write_photos(inp, 8, size=(320, 240))
    reference = tmp_path / "reference"
    assert _run(inp, reference).returncode == 0
    needed = sum(p.stat().st_blocks * 512 for p in reference.rglob("*") if p.is_file())  # tmpfs counts pages

    out = tiny_disk / "out"
    filler = tiny_disk / "filler"
    # room for the project store and some of the photos, not all (the store's size does not scale)
    store_bytes = sum(p.stat().st_blocks * 512 for p in (reference / ".packshot").glob("project.sqlite*"))
    room = store_bytes + (needed - store_bytes) * 6 // 10
    assert _free_bytes(tiny_disk) > room, "make the tmpfs bigger"
    filler.write_bytes(b"\0" * (_free_bytes(tiny_disk) - room))
    failed = _run(inp, out)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stderr.startswith(f"packshot: error: {DISK_FULL_FIX}"), failed.stderr
    assert "Traceback" not in failed.stderr and len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert "failed:" not in failed.stdout, failed.stdout  # it stopped: no photo after it "failed" too
    store = ProjectStore(out)
    statuses = [p.status for p in store.photos()]
    store.close()
    assert 0 < statuses.count("done") < 8 and "failed" not in statuses  # stopped mid-batch, nothing blamed

    filler.unlink()  # the user frees space and runs the same command again
    _assert_consistent(out)
    resumed = _run(inp, out)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Failed: 0" in resumed.stdout
    _assert_consistent(out)
    assert _outputs(out) == _outputs(reference)
