"""The bad-input corpus: each bad file gets its own specific message and the rest of the batch completes."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import packshot.core.images
from packshot.core.errors import DiskFullError, ImageWriteError
from packshot.core.jobs import BatchJob, JobSettings
from packshot.core.project import ProjectStore
from tests.core.batch_helpers import (
    jpeg_bytes,
    no_models_runtime,
    png_header_only,
    product_photo,
    run_batch,
)


def _corpus(folder):
    folder.mkdir()
    good = product_photo(120, 96)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(jpeg_bytes(good)[:700])
    (folder / "not-an-image.png").write_text("this is a text file with an image name\n")
    (folder / "bomb.png").write_bytes(png_header_only(100_000, 100_000))
    (folder / "huge.png").write_bytes(png_header_only(18_000, 12_000))  # 216 MP: past the 200 MP limit
    (folder / "big-but-cut.png").write_bytes(png_header_only(12_000, 9_000))  # 108 MP is a real camera size
    Image.new("RGB", (1, 1), (255, 0, 0)).save(folder / "one-pixel.png")
    Image.fromarray(good).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    pal = Image.fromarray(good).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    pal.info["transparency"] = 0
    pal.save(folder / "palette-transparent.png", transparency=int(np.asarray(pal)[0, 0]))
    import cv2

    cv2.imwrite(str(folder / "sixteen-bit.png"), cv2.cvtColor(good.astype(np.uint16) * 257, cv2.COLOR_RGB2BGR))
    Image.fromarray(good).convert("L").save(folder / "grey.png")
    Image.fromarray(good).save(folder / "crème brûlée ✓.jpg", quality=92)
    Image.fromarray(good).save(folder / "with  spaces .jpg", quality=92)
    Image.fromarray(good).save(folder / "plain.webp", quality=90)
    Image.fromarray(good).save(folder / "plain.tiff")


EXPECTED_FAILURES = {
    "empty.jpg": "empty",
    "truncated.jpg": "truncated",
    "not-an-image.png": "not an image",
    "bomb.png": "too large",
    "huge.png": "limit",
    "big-but-cut.png": "truncated",
    "one-pixel.png": "too small",
}


def test_bad_input_corpus(tmp_path, capsys):
    _corpus(tmp_path / "in")
    out = tmp_path / "out"
    code = run_batch([str(tmp_path / "in"), "--out", str(out), "--no-progress"])
    text = capsys.readouterr()
    assert code == 1  # something failed
    assert "Traceback" not in text.out + text.err
    store = ProjectStore(out)
    by_name = {p.name: p for p in store.photos()}
    for name, phrase in EXPECTED_FAILURES.items():
        record = by_name[name]
        assert record.status == "failed", name
        assert record.error.startswith(name) and phrase in record.error, (name, record.error)
        assert record.error in text.out  # the summary lists the reason
    done = {n for n, p in by_name.items() if p.status == "done"}
    assert done == {"cmyk.jpg", "palette-transparent.png", "sixteen-bit.png", "grey.png", "crème brûlée ✓.jpg",
                    "with  spaces .jpg", "plain.webp", "plain.tiff"}
    assert (out / "crème brûlée ✓.png").is_file() and (out / "with  spaces.png").is_file()
    assert Image.open(out / "sixteen-bit.png").mode.startswith(("I;16", "RGB"))
    assert f"Failed: {len(EXPECTED_FAILURES)}" in text.out and "Done: 8" in text.out
    # the palette file's own transparency was its mask
    assert store.photo(tmp_path / "in" / "palette-transparent.png").mask_source == "alpha-channel"


def test_full_disk_stops_the_batch_and_keeps_what_is_done(tmp_path, monkeypatch):
    """Every photo after a full disk would fail the same way: the batch stops (issue 11, item 7)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        Image.fromarray(product_photo(100, 80)).save(folder / name)
    out = tmp_path / "out"
    real_replace = os.replace

    def disk_full_on_b(src, dst):
        if Path(dst) == out / "b.png":  # the second shot hits a full disk while being written
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(packshot.core.images.os, "replace", disk_full_on_b)
    job = BatchJob(folder, tmp_path / "out", JobSettings(), runtime=no_models_runtime(tmp_path))
    with pytest.raises(DiskFullError, match="the disk is full: free space and run the same command again"):
        job.run()
    assert {p.name: p.status for p in ProjectStore(out).photos()} == {"a.jpg": "done", "b.jpg": "pending",
                                                                     "c.jpg": "pending"}
    assert not list((tmp_path / "out").rglob(".tmp-*"))  # the half-written temp file was removed
    assert not (tmp_path / "out" / "b.png").exists()


def test_read_only_output_folder_is_one_clear_error(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(product_photo(100, 80)).save(folder / "a.jpg")
    out = tmp_path / "out"
    real_mkstemp = tempfile.mkstemp

    def read_only(*args, **kwargs):  # root ignores permission bits: simulate what a read-only mount says
        if str(kwargs.get("dir", "")).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(ImageWriteError, match="not writable.*Read-only file system"):
        BatchJob(folder, out, JobSettings(), runtime=no_models_runtime(tmp_path)).prepare()
    assert run_batch([str(folder), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "not writable" in err and "Traceback" not in err


def test_read_only_sub_folder_fails_only_its_photos(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("keep.jpg", "locked.jpg"):
        Image.fromarray(product_photo(100, 80)).save(folder / name)
    out = tmp_path / "out"
    real_mkstemp = tempfile.mkstemp

    def locked(*args, **kwargs):
        if str(kwargs.get("dir", "")).endswith("locked"):
            raise OSError(errno.EACCES, "Permission denied")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", locked)
    job = BatchJob(folder, out, JobSettings.from_flat(dict(name_template="{stem}/{stem}")), runtime=no_models_runtime(tmp_path))
    summary = job.run()
    assert summary.done == ["keep.jpg"]
    assert summary.failed[0][0] == "locked.jpg" and "Permission denied" in summary.failed[0][1]
