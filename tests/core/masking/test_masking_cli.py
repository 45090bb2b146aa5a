"""``packshot masks``: a folder in, mask PNGs and a doubtful-first review list out."""

from __future__ import annotations

import argparse
import csv

import numpy as np
from PIL import Image

from packshot.core.cli import masks_cmd
from packshot.core.masking import load_mask_png
from tests.core.masking import scenes as S


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    masks_cmd.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_masks_command_writes_named_pngs_and_review_list(tmp_path, capsys):
    photos, out = tmp_path / "in", tmp_path / "masks"
    photos.mkdir()
    bottle, truth = S.product_on_plain(180, 240)
    Image.fromarray(bottle).save(photos / "bottle shot.jpg", quality=95)
    noise = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(photos / "noise.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    before = {p.name: p.read_bytes() for p in photos.iterdir()}

    code = _run(["masks", str(photos), "--out", str(out), "--models-dir", str(tmp_path / "none")])
    assert code == 1, "one unreadable file makes the run fail, after the others are done"
    assert {p.name for p in out.glob("*.png")} == {"bottle shot.png", "noise.png"}
    assert S.iou(load_mask_png(out / "bottle shot.png", (240, 180)).mask, truth) > 0.85
    with open(out / "review.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["photo"] for r in rows] == ["noise.png", "bottle shot.jpg"], "doubtful first"
    assert rows[0]["source"] == "classic" and "sam-vit_b" in rows[0]["note"]
    assert "broken.jpg" in capsys.readouterr().out
    assert before == {p.name: p.read_bytes() for p in photos.iterdir()}, "originals untouched"

    stamp = (out / "noise.png").stat().st_mtime_ns
    assert _run(["masks", str(photos), "--out", str(out), "--masker", "classic"]) == 1
    assert (out / "noise.png").stat().st_mtime_ns == stamp, "existing masks are kept without --redo"
