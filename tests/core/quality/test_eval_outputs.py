"""``packshot eval``: all three outputs, numbers consistent with the saved results, CLI wiring."""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from packshot.core.errors import ModelMissingError
from packshot.core.generation.engines import engine_for
from packshot.core.images import save_image
from packshot.core.quality.evaluate import EvalConfig, run_eval
from packshot.core.quality.metric import expansion
from packshot.core.runtime import Runtime

PRODUCT = (200, 40, 30)


def make_folder(root: Path, n: int = 3, with_masks: int = 2, size: tuple[int, int] = (128, 96)) -> tuple[Path, Path]:
    """Photos of a red box on a tinted backdrop; masks for the first ``with_masks`` of them."""
    photos, masks = root / "photos", root / "masks"
    photos.mkdir(parents=True)
    masks.mkdir()
    w, h = size
    rng = np.random.default_rng(0)
    for i in range(n):
        img = np.full((h, w, 3), (90 + 40 * i, 140, 200), np.uint8) + rng.integers(0, 10, (h, w, 3), dtype=np.uint8)
        m = np.zeros((h, w), bool)
        m[h // 4: 3 * h // 4, w // 3: w // 3 + w // 4 + 4 * i] = True
        img[m] = PRODUCT
        save_image(photos / f"p{i}.png", img)
        if i < with_masks:
            Image.fromarray((m * 255).astype(np.uint8)).save(masks / f"p{i}.png")
    return photos, masks


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_eval_plain_engines_writes_csv_markdown_and_plot(tmp_path, tiny_clip_dir):
    from packshot.core.models.store import ModelStore

    photos, masks = make_folder(tmp_path)
    store = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    config = EvalConfig(engines=("white", "blur"), seeds=(0, 3), prompt="a red box on a table", masks_dir=masks,
                        resegmenter="classic", clip_model=tiny_clip_dir)
    out = tmp_path / "out"
    report = run_eval(photos, out, config, Runtime(store=store))

    for name in ("results.csv", "summary.md", "expansion.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    with Image.open(out / "expansion.png") as im:
        assert im.format == "PNG" and im.width > 300
    rows = read_rows(out / "results.csv")
    assert len(rows) == 3 * 2 * 2
    assert {(r["photo"], r["engine"], r["seed"]) for r in rows} == {
        (f"p{i}.png", e, s) for i in range(3) for e in ("white", "blur") for s in ("0", "3")}
    assert all(not r["error"] for r in rows)
    assert {r["mask_source"] for r in rows if r["photo"] == "p2.png"} == {"auto:classic"}
    assert {r["mask_source"] for r in rows if r["photo"] != "p2.png"} == {"file"}
    # Each row's numbers are the metric of the saved re-segmented mask against the input mask file.
    for r in rows:
        if r["mask_source"] != "file":
            continue
        m_in = np.asarray(Image.open(masks / r["photo"]).convert("L")) > 127
        m_out = np.asarray(Image.open(out / r["image"].replace(".png", ".mask.png")).convert("L")) > 127
        s = expansion(m_in, m_out)
        assert float(r["expansion"]) == pytest.approx(s.expansion)
        assert float(r["signed"]) == pytest.approx(s.signed)
        assert float(r["iou"]) == pytest.approx(s.iou)
        assert 0.0 <= float(r["clip_score"]) <= 100.0
    # The Markdown table's means are the CSV's means.
    md = (out / "summary.md").read_text(encoding="utf-8")
    for engine in ("white", "blur"):
        mean = statistics.fmean(float(r["expansion"]) for r in rows if r["engine"] == engine)
        line = next(ln for ln in md.splitlines() if ln.startswith(f"| {engine} |"))
        assert line.split("|")[4].strip() == f"{100 * mean:.3f}"
    assert f"model {tiny_clip_dir}" in md
    assert "1 photo(s) had no mask file" in md and "p2.png" in md
    assert [s.engine for s in report.summaries] == ["white", "blur"]
    assert report.summaries[0].n == 6 and report.summaries[0].mean_clip is not None
    assert not any(photos.glob("*.mask.png")) and sorted(p.name for p in photos.iterdir()) == [
        "p0.png", "p1.png", "p2.png"]  # originals' folder untouched


def test_eval_tiny_generative_engines_same_seeds_no_clip(tmp_path, tiny_diffusion_runtime):
    from packshot.core.generation.composite import composite
    from packshot.core.generation.settings import GenerationSettings
    from packshot.core.images import load_photo
    from packshot.core.jobs import load_mask_file

    photos, masks = make_folder(tmp_path, n=1, with_masks=1, size=(64, 48))
    out = tmp_path / "out"
    config = EvalConfig(engines=("si2", "si2-controlnet"), seeds=(0, 1), prompt="a red box on marble", steps=2,
                        resolution=64, masks_dir=masks, resegmenter="classic", device="cpu")
    report = run_eval(photos, out, config, tiny_diffusion_runtime)
    rows = read_rows(out / "results.csv")
    assert [(r["engine"], r["seed"]) for r in rows] == [("si2", "0"), ("si2", "1"), ("si2-controlnet", "0"),
                                                         ("si2-controlnet", "1")]
    assert all(not r["error"] and r["clip_score"] == "" for r in rows)
    # Same seed, different engines: different images; the saved image is that engine's render for that seed.
    a = np.asarray(Image.open(out / rows[0]["image"]))
    b = np.asarray(Image.open(out / rows[2]["image"]))
    assert not np.array_equal(a, b)
    photo = load_photo(photos / "p0.png")
    mask = load_mask_file(masks / "p0.png", photo.size)
    settings = GenerationSettings(prompt="a red box on marble", steps=2, seed=1, resolution=64)
    again = composite(photo, mask.alpha, engine_for(tiny_diffusion_runtime, "si2-controlnet", "cpu").render(photo, mask, settings)[0])
    np.testing.assert_array_equal(np.asarray(Image.open(out / rows[3]["image"])), again)
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "no CLIP model found" in md and "no CLIP score was computed" in md
    assert "si2 expands the object" in md or "si2-controlnet showed no expansion" in md
    assert report.clip.folder is None and (out / "expansion.png").is_file()


def test_missing_models_fail_before_any_output(tmp_path):
    from packshot.core.models.store import ModelStore

    photos, _ = make_folder(tmp_path, n=1, with_masks=0)
    store = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    with pytest.raises(ModelMissingError, match="photo-background-generation"):
        run_eval(photos, tmp_path / "out", EvalConfig(engines=("white", "si2-controlnet")), Runtime(store=store))
    assert not (tmp_path / "out").exists()


def test_cli_eval_runs_and_parses_seeds(tmp_path, capsys):
    from packshot.core.cli import eval_cmd

    photos, masks = make_folder(tmp_path, n=1, with_masks=1)
    parser = argparse.ArgumentParser(prog="packshot")
    eval_cmd.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(["eval", str(photos), "--out", str(out), "--masks", str(masks), "--engines", "white",
                              "--seeds", "0-1,5", "--reseg", "classic", "--no-images",
                              "--models-dir", str(tmp_path / "models")])
    assert args.seeds == (0, 1, 5)
    assert args.func(args) == 0
    assert len(read_rows(out / "results.csv")) == 3 and not (out / "images").exists()
    printed = capsys.readouterr().out
    assert "white" in printed and "results.csv" in printed and "CLIP score: no CLIP model found" in printed
    for bad in ("x", "3-1", "-2"):
        with pytest.raises(SystemExit):
            parser.parse_args(["eval", str(photos), "--out", str(out), "--seeds", bad])


def test_summary_warns_when_resegmentation_loses_the_product(tmp_path):
    from packshot.core.quality.clip_score import ClipLookup
    from packshot.core.quality.evaluate import EvalRow, summarise, write_markdown

    def row(engine: str, iou: float, signed: float) -> EvalRow:
        return EvalRow("a.png", engine, 0, expansion=0.0, expansion_object=0.0, signed=signed, iou=iou,
                       flagged=False, seconds=1.0)

    rows = [row("lossy", 0.5, -0.05), row("lossy", 0.6, -0.04), row("fine", 0.97, 0.001)]
    md = write_markdown(tmp_path / "s.md", summarise(rows, ["lossy", "fine"]), rows, EvalConfig(),
                        ClipLookup(None, ()), "classic", []).read_text(encoding="utf-8")
    warnings = [ln for ln in md.splitlines() if ln.startswith("Warning")]
    assert len(warnings) == 1 and "for lossy" in warnings[0] and "mean IoU 0.55" in warnings[0]


def test_eval_never_writes_into_the_photos_folder_and_takes_any_file_name(tmp_path):
    """The comparison's files go through the write guard: OUT reached as a link to the photos folder is
    refused before any work, the photos unchanged; a name that is not UTF-8 is escaped in the report."""
    import hashlib
    import os

    from packshot.core.errors import UnsafeWriteError
    from packshot.core.models.store import ModelStore

    photos, _ = make_folder(tmp_path, n=2, with_masks=0)
    os.rename(photos / "p1.png", os.path.join(os.fsencode(photos), b"caf\xe9.png"))
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos.iterdir()}
    (tmp_path / "alias").symlink_to(photos)
    store = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    config = EvalConfig(engines=("white",), seeds=(0,), resegmenter="classic")
    with pytest.raises(UnsafeWriteError):
        run_eval(photos, tmp_path / "alias", config, Runtime(store=store))
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos.iterdir()} == before
    report = run_eval(photos, tmp_path / "out", config, Runtime(store=store))
    assert {r["photo"] for r in read_rows(report.csv_path)} == {"p0.png", "caf\\xe9.png"}
