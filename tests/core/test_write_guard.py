"""``packshot.core.write_guard``: one gate for every write, judged by file identity, never by path text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from packshot.core.errors import PackshotError, UnsafeWriteError
from packshot.core.recipe import Recipe, save_output
from packshot.core.write_guard import (
    NotOursError,
    OtherJobError,
    WriteGuard,
    embedded_job_key,
    is_abandoned,
    is_our_temp,
    make_temp,
    probe_case_insensitive,
    sweep_temp_files,
    temp_prefix,
)


def _photos(folder: Path, *names: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        (folder / name).write_bytes(b"original " + name.encode())
        paths.append(folder / name)
    return paths


def _output(path: Path, job_key: str) -> Path:
    recipe = Recipe(input_path="/x/in.jpg", input_sha256="0" * 64, engine="white", seed=1, variant=1, job_key=job_key)
    return save_output(path, np.full((8, 8, 3), 200, np.uint8), recipe)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_input_folder_by_another_path_is_refused(tmp_path):
    photos = _photos(tmp_path / "in", "shoe.png")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "in")
    guard = WriteGuard(link, [tmp_path / "in", *photos])
    with pytest.raises(UnsafeWriteError, match="inside the input folder"):
        guard.check(link / "shoe.png")
    with pytest.raises(UnsafeWriteError, match="inside the input folder"):
        guard.check_folder(link)
    assert issubclass(UnsafeWriteError, PackshotError)


def test_a_hard_link_to_an_input_photo_is_never_replaced(tmp_path):
    photos = _photos(tmp_path / "in", "shoe.png")
    (tmp_path / "out").mkdir()
    os.link(photos[0], tmp_path / "out" / "shoe.png")
    with pytest.raises(UnsafeWriteError, match="it is the input photo"):
        WriteGuard(tmp_path / "out", photos).check(tmp_path / "out" / "shoe.png", overwrite=True)


def test_outputs_never_leave_the_output_folder(tmp_path):
    photos = _photos(tmp_path / "in", "shoe.png")
    guard = WriteGuard(tmp_path, [tmp_path / "in", *photos])  # --out . with the photos in ./in
    with pytest.raises(UnsafeWriteError, match="inside the input folder"):
        guard.check(tmp_path / "in" / "shoe.png")
    with pytest.raises(UnsafeWriteError, match="inside the input folder"):
        guard.check(tmp_path / "in" / "new" / "shoe.png")  # a sub-folder of the photos' folder too
    with pytest.raises(UnsafeWriteError, match="outside the output folder"):
        WriteGuard(tmp_path / "out").check(tmp_path / "out" / ".." / "x.png")
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "sub" / "away").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(UnsafeWriteError, match="outside the output folder"):
        WriteGuard(tmp_path / "out").check(tmp_path / "out" / "sub" / "away" / "x.png")
    assert guard.check(tmp_path / "results" / "shoe.png") == tmp_path / "results" / "shoe.png"


def test_existing_files_are_replaced_only_when_packshot_made_them(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    guard = WriteGuard(out)
    (out / "mine.png").write_bytes(b"the user's own file")
    with pytest.raises(NotOursError, match="not made by Packshot"):
        guard.check(out / "mine.png", made_by="k1", overwrite=True)  # never, even when replacing is asked
    _output(out / "a.png", "k1")
    assert embedded_job_key(out / "a.png") == "k1"
    assert guard.check(out / "a.png", made_by="k1") == out / "a.png"  # this job's own output
    assert guard.check(out / "a.png", made_by={"k0", "k1"}) == out / "a.png"
    with pytest.raises(OtherJobError, match="another job made it") as other:
        guard.check(out / "a.png", made_by="k2")
    assert other.value.key == "k1"
    assert guard.check(out / "a.png", made_by="k2", overwrite=True) == out / "a.png"  # --redo
    (out / "folder.png").mkdir()
    with pytest.raises(UnsafeWriteError, match="folder"):
        guard.check(out / "folder.png", overwrite=True)
    (out / "link.png").symlink_to(out / "a.png")
    with pytest.raises(NotOursError, match="not a plain file"):
        guard.check(out / "link.png", made_by="k1", overwrite=True)


def test_the_project_folder_is_the_projects_own(tmp_path):
    out = tmp_path / "out"
    (out / ".packshot" / "masks").mkdir(parents=True)
    (out / ".packshot" / "masks" / "a.png").write_bytes(b"an earlier mask")
    assert WriteGuard(out).check(out / ".packshot" / "masks" / "a.png") == out / ".packshot" / "masks" / "a.png"


def test_case_folded_names_on_a_case_insensitive_disk(tmp_path):
    """Simulated: the guard is told the disk folds case, as macOS's default and FAT do."""
    photos = _photos(tmp_path / "in", "Shoe.JPG")
    folding = WriteGuard(tmp_path, [tmp_path / "in", *photos], case_insensitive=lambda _p: True)
    with pytest.raises(UnsafeWriteError, match="inside the input folder"):
        folding.check(tmp_path / "IN" / "shoe.jpg")  # the same folder there, spelled otherwise
    strict = WriteGuard(tmp_path, [tmp_path / "in", *photos], case_insensitive=lambda _p: False)
    assert strict.check(tmp_path / "IN" / "shoe.jpg")  # on a case-sensitive disk: another folder
    out = tmp_path / "out"
    listed = _photos(out, "Cup.PNG")  # an input photo inside the output folder (a single-file job)
    with pytest.raises(UnsafeWriteError, match="case-insensitive disk"):
        WriteGuard(out, listed, case_insensitive=lambda _p: True).check(out / "cup.png", overwrite=True)
    assert probe_case_insensitive(tmp_path) is False  # this test machine's disk


def test_a_bind_mount_of_the_input_folder_is_the_input_folder(tmp_path):
    photos = _photos(tmp_path / "in", "shoe.png")
    mount = tmp_path / "mnt"
    mount.mkdir()
    if subprocess.run(["mount", "--bind", str(tmp_path / "in"), str(mount)], capture_output=True).returncode:
        pytest.skip("mount --bind needs root")
    try:
        with pytest.raises(UnsafeWriteError, match="inside the input folder"):
            WriteGuard(mount, [tmp_path / "in", *photos]).check(mount / "shoe.png")
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_temp_files_are_named_so_a_sweep_removes_only_ours(tmp_path):
    fd, mine = make_temp(tmp_path, ".png")
    os.close(fd)
    assert mine.name.startswith(temp_prefix()) and mine.suffix == ".png" and is_our_temp(mine.name)
    assert not is_abandoned(mine)  # this process is alive
    users = [tmp_path / ".tmp-notes.txt", tmp_path / ".tmp-abc123.png", tmp_path / "sub" / ".tmp-x"]
    for path in users:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"the user's")
    dead = tmp_path / "sub" / (temp_prefix().replace(f"-{os.getpid()}-", f"-{_dead_pid()}-") + "abcdef12.png")
    dead.write_bytes(b"a killed run's partial")
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        busy = tmp_path / (temp_prefix().replace(f"-{os.getpid()}-", f"-{sleeper.pid}-") + "abcdef12.png")
        busy.write_bytes(b"another process's export, being written")
        other_host = tmp_path / ".packshot-tmp-otherhost-1-abcdef12.png"
        other_host.write_bytes(b"a fresh temp of another machine on a shared disk")
        assert sweep_temp_files(tmp_path) == 1
        assert not dead.exists()
        assert all(p.read_bytes() == b"the user's" for p in users)
        assert mine.exists() and busy.exists() and other_host.exists()
        old = 3 * 24 * 3600
        os.utime(other_host, (other_host.stat().st_atime - old, other_host.stat().st_mtime - old))
        assert sweep_temp_files(tmp_path) == 1 and not other_host.exists()
    finally:
        sleeper.communicate(b"")


def test_write_atomic_leaves_only_its_own_temp_names(tmp_path, monkeypatch):
    from packshot.core.images import write_atomic

    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_atomic(tmp_path / "a.png", b"data")
    assert is_our_temp(seen[0]) and (tmp_path / "a.png").read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_an_object_store_output_never_lands_among_the_photos(tmp_path):
    """URIs have no inodes or links: their text is their identity (packshot.core.cluster.storage.Tree)."""
    from packshot.core.cluster.storage import Tree

    out = Tree.at("s3://bucket")
    out.protected = ("s3://bucket/photos",)
    assert out.check_write(out.mirror / "sub" / "shoe.png") == "s3://bucket/sub/shoe.png"
    for name in ("photos/shoe.png", "photos/deeper/shoe.png"):  # a --name walking into the photos
        with pytest.raises(UnsafeWriteError, match="inside the input folder s3://bucket/photos"):
            out.write_bytes(out.mirror / name, b"never sent")
    inside = Tree.from_dict({**Tree.at("s3://bucket/photos/out").to_dict(), "protected": ["s3://bucket/photos"]})
    assert inside.check_write(inside.mirror / "shoe.png") == "s3://bucket/photos/out/shoe.png"


def test_a_mask_written_for_a_photo_never_lands_on_that_photo(tmp_path):
    """The app's mask save goes through the guard: a masks folder that is (a link to) the photo's folder
    cannot overwrite the photo; a project's own mask is replaced freely."""
    import hashlib

    import numpy as np

    from packshot.core.errors import UnsafeWriteError
    from packshot.core.jobs.masks import save_mask_atomic

    photos = tmp_path / "photos"
    photos.mkdir()
    photo = photos / "mug.png"
    photo.write_bytes(b"not really a png, but the user's file")
    before = hashlib.sha256(photo.read_bytes()).hexdigest()
    (tmp_path / "alias").symlink_to(photos)
    alpha = np.ones((4, 4), np.float32)
    with pytest.raises(UnsafeWriteError):
        save_mask_atomic(tmp_path / "alias" / "mug.png", alpha, photo=photo)
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == before
    own = tmp_path / "out" / ".packshot" / "masks" / "mug.png"
    own.parent.mkdir(parents=True)
    save_mask_atomic(own, alpha, photo=photo)
    save_mask_atomic(own, alpha * 0.5, photo=photo)  # its own bookkeeping: replaced
    assert own.is_file()
