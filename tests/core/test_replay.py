"""``packshot replay``: an output made again from its recipe, never over the original unless asked."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from packshot.core.cli.main import main as packshot
from packshot.core.recipe import read_recipe
from tests.core.batch_helpers import write_photos
from tests.factories.diffusion_fixtures import tiny_diffusion_models_dir  # noqa: F401


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_replay_of_a_white_output_is_identical_and_leaves_the_original_alone(tmp_path, capsys):
    write_photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--no-progress"]) == 0
    original = out / "item_000.png"
    before = _sha(original)
    capsys.readouterr()

    assert packshot(["replay", str(original)]) == 0
    assert "identical to the stored output (max pixel difference 0)" in capsys.readouterr().out
    copy = out / "item_000.replay.png"
    assert np.array_equal(np.asarray(Image.open(copy)), np.asarray(Image.open(original)))
    assert _sha(original) == before

    assert packshot(["replay", str(original), "--out", str(original)]) == 1  # not without --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert _sha(original) == before

    elsewhere = tmp_path / "elsewhere" / "again.png"
    assert packshot(["replay", str(original), "--out", str(elsewhere)]) == 0
    assert "max pixel difference 0" in capsys.readouterr().out
    assert read_recipe(elsewhere).mask_file(elsewhere) == read_recipe(original).mask_file(original)
    assert packshot(["replay", str(elsewhere)]) == 0  # the copy's recipe still finds its mask
    assert "max pixel difference 0" in capsys.readouterr().out

    assert packshot(["replay", str(original), "--out", str(original), "--overwrite"]) == 0
    assert np.array_equal(np.asarray(Image.open(original)), np.asarray(Image.open(copy)))


def test_replay_reports_a_difference_and_a_jpeg_output_replays_exactly(tmp_path, capsys):
    write_photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--format", "jpg", "--no-progress"]) == 0
    capsys.readouterr()
    assert packshot(["replay", str(out / "item_000.jpg")]) == 0
    assert "max pixel difference 0" in capsys.readouterr().out
    assert not (out / "item_000.replay.jpg.recipe.json").exists()  # the recipe is inside the JPEG

    png = tmp_path / "png-out"
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(png), "--no-progress"]) == 0
    tampered = np.asarray(Image.open(png / "item_000.png").convert("RGB")).copy()
    tampered[0, 0] = (0, 0, 0)  # the stored output no longer matches its recipe
    im = Image.open(png / "item_000.png")
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in im.text.items():
        info.add_itxt(key, value)
    Image.fromarray(tampered).save(png / "item_000.png", pnginfo=info)
    capsys.readouterr()
    assert packshot(["replay", str(png / "item_000.png")]) == 0
    assert "differs from the stored output (max pixel difference 255)" in capsys.readouterr().out


def test_replay_of_a_generated_output(tmp_path, capsys, tiny_diffusion_models_dir):  # noqa: F811
    write_photos(tmp_path / "in", 1, size=(80, 64))
    out = tmp_path / "out"
    models = ["--models-dir", str(tiny_diffusion_models_dir), "--device", "cpu"]
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--resolution", "64", "--steps", "2",
                     "--no-progress", *models]) == 0
    text = capsys.readouterr().out
    assert "engine: si2-controlnet" in text and "'studio' template" in text  # auto -> generative, default prompt
    recipe = read_recipe(out / "item_000.png")
    assert recipe.engine == "si2-controlnet" and recipe.template == "studio" and recipe.prompt.strip()
    assert packshot(["replay", str(out / "item_000.png"), *models]) == 0
    assert "identical to the stored output (max pixel difference 0)" in capsys.readouterr().out
