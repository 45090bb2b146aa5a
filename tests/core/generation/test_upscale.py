"""The learned background upscaler: safe loading, exact sizes, seamless tiles, the product untouched, replays.

Random weights say nothing about quality (see the README); these tests check the machinery: the real
loading path (safetensors and Real-ESRGAN's nested ``.pth``), tiling that adds nothing of its own,
and the wiring from the settings through the engines, the recipe and replay.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from packshot.core.errors import ModelMissingError, UnsafeWeightsError
from packshot.core.generation.engines import engine_for
from packshot.core.generation.settings import GenerationSettings
from packshot.core.generation.upscale import (
    CPU_UPSCALER,
    GPU_UPSCALER,
    RECIPE_ROLE,
    load_upscaler,
    loaded_upscaler,
    missing_note,
    replay_settings,
    resolve_upscaler,
)
from packshot.core.runtime import Runtime
from tests.core.generation.helpers import product_photo
from tests.factories.diffusion_fixtures import tiny_diffusion_models_dir  # noqa: F401
from tests.factories.sd2_fixtures import tiny_sd2_models_dir  # noqa: F401
from tests.factories.upscaler import (
    compact_state,
    offline_store,
    save_weights,
    write_compact,
)

SHA0 = "0" * 64


@pytest.fixture
def compact(upscalers, tmp_path):
    return loaded_upscaler(Runtime(store=offline_store(upscalers, tmp_path)), CPU_UPSCALER, "cpu")


def _textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth textured background (waves plus fine noise), like a painted surface."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 128 + 50 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    rgb = np.stack([base, base * 0.8 + 30, 255 - base], axis=-1) + rng.normal(0, 6, (height, width, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _whole(upscaler, image: np.ndarray) -> np.ndarray:
    """The same pass as one tile (no tile boundary anywhere): the reference a tiled pass must equal."""
    tile = upscaler.tile
    upscaler.tile = 10_000
    try:
        return upscaler.enlarge(image)
    finally:
        upscaler.tile = tile


# -- loading ----------------------------------------------------------------------------------------
def test_both_real_layouts_load_through_the_runtime_once(upscalers, tmp_path):
    runtime = Runtime(store=offline_store(upscalers, tmp_path))
    small = loaded_upscaler(runtime, CPU_UPSCALER, "cpu")
    large = loaded_upscaler(runtime, GPU_UPSCALER, "cpu")
    assert (small.architecture, small.scale) == ("Compact", 4)
    assert (large.architecture, large.scale) == ("ESRGAN", 4)  # RRDBNet under Real-ESRGAN's "params_ema"
    weights = upscalers / GPU_UPSCALER / "RealESRGAN_x4plus.pth"
    assert large.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert loaded_upscaler(runtime, CPU_UPSCALER, "cpu") is small
    assert runtime.loaded()["upscalers"] == 2
    runtime.unload()
    assert runtime.loaded()["upscalers"] == 0


def _one_line(exc: pytest.ExceptionInfo, name: str) -> str:
    text = str(exc.value)
    assert "\n" not in text and name in text
    return text


def test_weights_of_another_kind_are_refused_in_one_line(tmp_path):
    path = save_weights({"encoder.weight": __import__("torch").zeros(4, 4)}, tmp_path / "other.safetensors")
    with pytest.raises(UnsafeWeightsError) as exc:
        load_upscaler(path, CPU_UPSCALER, "cpu", SHA0)
    assert "not an upscaler Packshot knows" in _one_line(exc, "other.safetensors")


def test_truncated_and_mismatched_weights_are_refused_in_one_line(tmp_path):
    good = save_weights(compact_state(8, 4), tmp_path / "good.safetensors")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(UnsafeWeightsError) as exc:
        load_upscaler(cut, CPU_UPSCALER, "cpu", SHA0)
    assert "not a valid safetensors file" in _one_line(exc, "cut.safetensors")
    state = compact_state(8, 4)
    state["body.2.weight"] = state["body.2.weight"][:, :5].contiguous()  # the right names, a wrong shape
    with pytest.raises(UnsafeWeightsError) as exc:
        load_upscaler(save_weights(state, tmp_path / "bent.safetensors"), CPU_UPSCALER, "cpu", SHA0)
    assert "damaged upscaler weights" in _one_line(exc, "bent.safetensors")


class _RunsCode:
    """A pickle that would create a marker file if it were ever unpickled with code allowed."""

    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_pickle_that_asks_for_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "EXECUTED"
    payload = _RunsCode()
    payload.marker = str(marker)
    path = tmp_path / "realesr-general-x4v3.pth"
    with open(path, "wb") as handle:
        pickle.dump({"params": payload}, handle)
    with pytest.raises(UnsafeWeightsError) as exc:
        load_upscaler(path, CPU_UPSCALER, "cpu", SHA0)
    assert "is a pickle, which Packshot does not load" in _one_line(exc, path.name)
    assert not marker.exists()


# -- sizes and tiles ----------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(97, 61), (64, 40), (300, 181), (350, 260)])
def test_the_output_has_the_exact_size_asked_for(compact, size):
    out = compact(_textured(40, 64), size)  # x1.5 ... x6.5: one pass, or two with an area step between
    assert out.shape == (size[1], size[0], 3) and out.dtype == np.uint8


def test_a_flat_background_stays_flat_across_tiles(compact):
    compact.tile = 24  # a 70 x 50 image in 9 tiles
    flat = np.full((50, 70, 3), (180, 176, 170), np.uint8)
    out = compact.enlarge(flat).astype(int)
    assert np.abs(out - _whole(compact, flat)).max() <= 1
    # A flat input through any x4 network is one 4 x 4 cell repeated (random weights do not make the cell
    # itself flat): a tile boundary would break the repetition.
    assert np.abs(out[4:] - out[:-4]).max() <= 1 and np.abs(out[:, 4:] - out[:, :-4]).max() <= 1


def _one_batch_output(tmp_path: Path, models_dir: Path, *extra: str, steps: str = "2") -> tuple[Path, list[str]]:
    """One small photo through ``packshot batch`` on the CPU with the tiny upscalers (``extra``: more
    flags); (the output folder, the models arguments a replay or export of it needs)."""
    from packshot.core.cli.main import main as packshot
    from tests.core.batch_helpers import write_photos

    write_photos(tmp_path / "in", 1, size=(150, 96))
    out = tmp_path / "out"
    models = ["--models-dir", str(models_dir), "--device", "cpu"]
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--resolution", "64", "--steps", steps,
                     *extra, "--no-progress", *models]) == 0
    return out, models


def _boundary_step(out: np.ndarray, boundaries: list[int], scale: int) -> tuple[float, float]:
    """Mean absolute step between neighbouring output columns across tile boundaries, and across every other
    column of the same phase of the x``scale`` pixel grid (a random network paints each phase its own way)."""
    steps = np.abs(np.diff(out.astype(np.float32), axis=1)).mean(axis=(0, 2))  # steps[j]: column j to j + 1
    phase = [j for j in range(scale - 1, steps.size, scale) if j + 1 not in boundaries]
    return float(np.mean([steps[b - 1] for b in boundaries])), float(np.mean(steps[phase]))


def test_a_textured_background_has_no_seam_where_tiles_meet(compact):
    compact.tile = 32
    image = _textured(64, 96)
    out = compact.enlarge(image)
    whole = _whole(compact, image).astype(int)
    assert np.abs(out.astype(int) - whole).max() <= 1  # tiling adds nothing the untiled pass does not paint
    cores = [c * compact.scale for c in (32, 64)]  # _spans(96, 32): core edges at input columns 32 and 64
    at_seams, elsewhere = _boundary_step(out, cores, compact.scale)
    assert at_seams < 1.25 * elsewhere
    # The comparison sees seams when there are some: tiles run alone (zero padding, no context, no blend)
    # differ from the untiled pass along their edges.
    naive = np.rint(np.concatenate([compact._run(image[:, c:c + 32]) for c in (0, 32, 64)], axis=1)).astype(int)
    band = np.zeros(out.shape[1], bool)
    for c in cores:
        band[c - 8:c + 8] = True
    assert np.abs(naive - whole)[:, band].mean() > 10 * max(np.abs(out.astype(int) - whole)[:, band].mean(), 0.1)


def test_a_long_upscale_stops_between_tiles_when_cancelled(compact):
    from packshot.core.errors import Cancelled
    from packshot.core.progress import CancelToken

    compact.tile = 16
    seen = []
    token = CancelToken()
    run = compact._run

    def counting(tile):
        seen.append(tile.shape)
        token.cancel()  # the user cancels while the first tile runs
        return run(tile)

    compact._run = counting
    with pytest.raises(Cancelled):
        compact(_textured(40, 64), (256, 160), cancel=token)
    assert len(seen) == 1


# -- when it runs -------------------------------------------------------------------------------------
def test_which_upscaler_runs(upscalers, tmp_path):
    store = offline_store(upscalers, tmp_path)
    final = GenerationSettings()
    assert resolve_upscaler(store, final, "cpu") == CPU_UPSCALER  # the compact one fits the CPU
    assert resolve_upscaler(store, final, "cuda") == GPU_UPSCALER
    assert resolve_upscaler(store, replace(final, upscaler=GPU_UPSCALER), "cpu") == GPU_UPSCALER
    assert resolve_upscaler(store, replace(final, quality="preview"), "cpu") is None  # previews stay fast
    assert resolve_upscaler(store, replace(final, detail="off"), "cpu") is None
    assert missing_note(store, final, "cpu") is None


def test_without_a_model_auto_says_so_and_upscale_fails_naming_the_download(tmp_path):
    store = offline_store(tmp_path / "empty", tmp_path)
    final = GenerationSettings()
    assert resolve_upscaler(store, final, "cpu") is None
    assert f"packshot models download {CPU_UPSCALER}" in missing_note(store, final, "cpu")
    assert missing_note(store, replace(final, detail="off"), "cpu") is None
    with pytest.raises(ModelMissingError, match=CPU_UPSCALER):
        resolve_upscaler(store, replace(final, detail="upscale"), "cpu")


def test_replay_uses_exactly_what_the_recipe_recorded():
    auto = GenerationSettings()
    recorded = {CPU_UPSCALER: {"revision": "local", "sha256": SHA0, "role": RECIPE_ROLE}}
    pinned = replay_settings(auto, {"quality": "final"}, {"photo-background-generation": {}, **recorded})
    assert (pinned.detail, pinned.upscaler) == ("upscale", CPU_UPSCALER)
    # A final render that names no upscaler (an older recipe, or none downloaded then) was bicubic.
    assert replay_settings(auto, {}, {"photo-background-generation": {}}).detail == "off"
    # A preview replayed at final quality gets what this machine has.
    assert replay_settings(auto, {"quality": "preview"}, {}).detail == "auto"


# -- through the engine: the product pasted back bit-exact over the upscaled background -------------------
@pytest.fixture
def models_with_upscaler(tiny_diffusion_models_dir, tmp_path) -> Path:  # noqa: F811
    models = tmp_path / "models"
    models.mkdir()
    for folder in tiny_diffusion_models_dir.iterdir():
        (models / folder.name).symlink_to(folder, target_is_directory=True)
    write_compact(models)
    return models


def test_the_product_is_pasted_bit_exact_over_the_upscaled_background(models_with_upscaler, tmp_path):
    from packshot.core.jobs.render import render_images

    runtime = Runtime(store=offline_store(models_with_upscaler, tmp_path))
    engine = engine_for(runtime, "si2-controlnet", "cpu")
    photo, mask = product_photo(97, 61)
    settings = GenerationSettings(steps=2, resolution=64, prompt="a table")
    upscaled = render_images(engine, photo, mask, settings)[0]
    plain = render_images(engine, photo, mask, replace(settings, detail="off"))[0]
    solid = mask.alpha >= 1.0
    assert np.array_equal(upscaled[solid], photo.pixels[solid])
    assert np.array_equal(plain[solid], photo.pixels[solid])
    background = mask.alpha <= 0.0
    assert not np.array_equal(upscaled[background], plain[background])  # the upscaler really ran
    preview = render_images(engine, photo, mask, replace(settings, quality="preview"))[0]
    assert preview.shape == upscaled.shape and runtime.loaded()["upscalers"] == 1


def test_the_sd2_controlnet_engine_enlarges_through_it_too(tiny_sd2_models_dir, tmp_path):  # noqa: F811
    from packshot.core.jobs.render import render_images
    from tests.factories.sd2_fixtures import SD2_CONTROLNET_ID

    models = tmp_path / "models"
    models.mkdir()
    for folder in tiny_sd2_models_dir.iterdir():
        (models / folder.name).symlink_to(folder, target_is_directory=True)
    write_compact(models)
    runtime = Runtime(store=offline_store(models, tmp_path))
    engine = engine_for(runtime, "sd2-controlnet", "cpu", model=SD2_CONTROLNET_ID)
    photo, mask = product_photo(97, 61)
    settings = GenerationSettings(steps=2, resolution=64, prompt="a table")
    upscaled = render_images(engine, photo, mask, settings)[0]
    plain = render_images(engine, photo, mask, replace(settings, detail="off"))[0]
    solid, background = mask.alpha >= 1.0, mask.alpha <= 0.0
    assert np.array_equal(upscaled[solid], photo.pixels[solid])
    assert not np.array_equal(upscaled[background], plain[background])
    assert runtime.loaded()["upscalers"] == 1


def test_a_batch_output_records_its_upscaler_and_replays_identically(models_with_upscaler, tmp_path, capsys):
    from packshot.core.cli.main import main as packshot
    from packshot.core.recipe import read_recipe

    out, models = _one_batch_output(tmp_path, models_with_upscaler)
    recipe = read_recipe(out / "item_000.png")
    weights = next((models_with_upscaler / CPU_UPSCALER).iterdir())
    # --detail auto, recorded as what it resolved to on this CPU (a replay elsewhere runs the same pass)
    assert (recipe.settings["detail"], recipe.settings["upscaler"]) == ("upscale", CPU_UPSCALER)
    assert recipe.models[CPU_UPSCALER] == {
        "revision": "local", "path": str(weights.resolve()), "role": RECIPE_ROLE, "device": "cpu",
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
    assert next(iter(recipe.models)) == "photo-background-generation"
    capsys.readouterr()
    assert packshot(["replay", str(out / "item_000.png"), *models]) == 0
    assert "identical to the stored output (max pixel difference 0)" in capsys.readouterr().out
    # Other weights under the same name would not give the same image: said, not replayed.
    write_compact(models_with_upscaler, seed=1, filename=weights.name)
    assert packshot(["replay", str(out / "item_000.png"), *models]) != 0
    assert f"The upscaler {CPU_UPSCALER} here" in capsys.readouterr().err


def test_an_explicit_upscale_without_the_model_fails_before_any_work(tiny_diffusion_models_dir, tmp_path,  # noqa: F811
                                                                      capsys):
    from packshot.core.cli.main import main as packshot
    from tests.core.batch_helpers import write_photos

    write_photos(tmp_path / "in", 1, size=(80, 64))
    args = ["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--resolution", "64", "--steps", "2",
            "--no-progress", "--models-dir", str(tiny_diffusion_models_dir), "--device", "cpu"]
    assert packshot([*args, "--detail", "upscale"]) != 0
    assert f"packshot models download {CPU_UPSCALER}" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.png"))


def test_a_hostile_recipe_sha_is_refused_by_name():
    from packshot.core.recipe import Recipe, RecipeError

    data = {"input_path": "/x.png", "input_sha256": SHA0, "engine": "si2", "seed": 1, "variant": 1,
            "models": {CPU_UPSCALER: {"role": RECIPE_ROLE, "sha256": "../../etc"}}}
    with pytest.raises(RecipeError, match="recipe field `models`"):
        Recipe.from_dict(data)


def test_an_export_at_another_size_goes_through_the_recorded_upscaler(models_with_upscaler, tmp_path, capsys):
    import shutil

    from packshot.core.cli.main import main as packshot
    from packshot.core.recipe import read_recipe

    out, models = _one_batch_output(tmp_path, models_with_upscaler)
    from packshot.core.generation.presets import PRESETS
    from packshot.core.images import load_photo

    # Every size preset: the background reaches the preset's size through the recorded upscaler.
    for preset in [p for p in PRESETS.values() if p.width is not None]:
        folder = tmp_path / f"export-{preset.name}"
        assert packshot(["export", str(out / "item_000.png"), "--out", str(folder), "--preset", preset.name,
                         "--no-progress", *models]) == 0
        [made] = folder.glob("*.png")
        recipe = read_recipe(made)
        assert load_photo(made).size == (preset.width, preset.height), preset.name
        assert recipe.preset == preset.name and recipe.models[CPU_UPSCALER]["role"] == RECIPE_ROLE
        assert (recipe.settings["detail"], recipe.settings["upscaler"]) == ("upscale", CPU_UPSCALER)
    [image] = (tmp_path / "export-square-1000").glob("*.png")
    capsys.readouterr()
    assert packshot(["replay", str(image), *models]) == 0
    assert "identical to the stored output (max pixel difference 0)" in capsys.readouterr().out
    # Without the upscaler it was made with, an export at another size is refused by name, not made blurry.
    shutil.rmtree(models_with_upscaler / CPU_UPSCALER)
    packshot(["export", str(out / "item_000.png"), "--out", str(tmp_path / "again"), "--preset", "square-1000",
              "--no-progress", *models])
    said = capsys.readouterr()
    assert f"Model '{CPU_UPSCALER}'" in said.out + said.err
    assert not list((tmp_path / "again").glob("*.png"))


# -- the detail pass (--detail repaint) ------------------------------------------------------------------
def test_tiles_of_the_detail_pass_cover_the_image_and_overlap():
    from packshot.core.generation.detail import tile_starts

    for length, tile in ((2000, 512), (97, 64), (512, 512), (40, 64)):
        starts = tile_starts(length, tile, overlap=min(64, tile // 4))
        ends = [min(length, s + tile) for s in starts]
        assert starts[0] == 0 and ends[-1] == length
        assert all(b < a_end for a_end, b in zip(ends, starts[1:]))  # every neighbour overlaps the last


def test_the_detail_pass_repaints_the_background_and_leaves_the_product(models_with_upscaler, tmp_path):
    from packshot.core.generation.detail import REPAINT_STRENGTH
    from packshot.core.jobs.render import render_images

    runtime = Runtime(store=offline_store(models_with_upscaler, tmp_path))
    engine = engine_for(runtime, "si2-controlnet", "cpu")
    photo, mask = product_photo(150, 96)
    settings = GenerationSettings(steps=4, resolution=64, prompt="a table", detail="repaint")
    repainted = render_images(engine, photo, mask, settings)[0]
    upscaled = render_images(engine, photo, mask, replace(settings, detail="upscale"))[0]
    assert repainted.shape == upscaled.shape == photo.pixels.shape
    solid, background = mask.alpha >= 1.0, mask.alpha <= 0.0
    assert np.array_equal(repainted[solid], photo.pixels[solid])
    assert not np.array_equal(repainted[background], upscaled[background])
    assert np.array_equal(render_images(engine, photo, mask, settings)[0], repainted)  # same seed, same pixels
    assert 0 < REPAINT_STRENGTH < 1


def test_img2img_at_full_strength_is_the_plain_generation(tiny_diffusion_models_dir, tmp_path):  # noqa: F811
    runtime = Runtime(store=offline_store(tiny_diffusion_models_dir, tmp_path))
    pipeline = engine_for(runtime, "si2-controlnet", "cpu").pipeline
    canvas = _textured(64, 64)
    generate = np.ones((64, 64), np.float32)
    generate[20:40, 20:40] = 0.0
    args = dict(prompt="a table", seeds=[3], steps=4)
    plain = pipeline(canvas, generate, **args)
    assert np.array_equal(pipeline(canvas, generate, strength=1.0, **args), plain)
    light = pipeline(canvas, generate, strength=0.25, **args)
    heavy = pipeline(canvas, generate, strength=0.75, **args)
    # Less strength stays nearer the image it starts from (the tiny VAE's round trip is the floor).
    far = [np.abs(x.astype(int) - canvas.astype(int))[generate > 0.5].mean() for x in (light[0], heavy[0])]
    assert far[0] < far[1]


def test_a_repainted_output_replays_identically(models_with_upscaler, tmp_path, capsys):
    from packshot.core.cli.main import main as packshot
    from packshot.core.recipe import read_recipe

    out, models = _one_batch_output(tmp_path, models_with_upscaler, "--detail", "repaint", steps="4")
    recipe = read_recipe(out / "item_000.png")
    assert recipe.settings["detail"] == "repaint" and recipe.models[CPU_UPSCALER]["role"] == RECIPE_ROLE
    capsys.readouterr()
    assert packshot(["replay", str(out / "item_000.png"), *models]) == 0
    assert "identical to the stored output (max pixel difference 0)" in capsys.readouterr().out
    # The same recipe saying the pass ran on a GPU: a CPU replay is refused in one line, before any work.
    from packshot.core.errors import PackshotError
    from packshot.core.jobs.render import render_from_recipe

    recipe.models[CPU_UPSCALER]["device"] = "cuda"
    runtime = Runtime(store=offline_store(models_with_upscaler, tmp_path))
    with pytest.raises(PackshotError, match=r"^item_000.png was made with the detail pass .* on a GPU \(cuda\)"):
        render_from_recipe(recipe, out / "item_000.png", runtime=runtime, device="cpu")
    assert runtime.loaded().get("upscalers", 0) == 0


# -- eval: the engines render as the batch does on this device, and the report says which pass ran ----------
def test_eval_upscales_like_the_batch_and_says_so(models_with_upscaler, tmp_path):
    from packshot.core.images import save_image
    from packshot.core.quality.evaluate import EvalConfig, run_eval

    photos = tmp_path / "photos"
    photo, mask = product_photo(150, 96)
    save_image(photos / "p0.png", photo.pixels)
    save_image(tmp_path / "masks" / "p0.png", np.repeat((mask.alpha * 255).astype(np.uint8)[..., None], 3, axis=2))
    runtime = Runtime(store=offline_store(models_with_upscaler, tmp_path))
    config = EvalConfig(engines=("si2-controlnet",), seeds=(0,), prompt="a table", steps=2, resolution=64,
                        masks_dir=tmp_path / "masks", resegmenter="classic", device="cpu")
    report = run_eval(photos, tmp_path / "out", config, runtime)
    assert not report.rows[0].error
    said = f"si2-controlnet: backgrounds enlarged by {CPU_UPSCALER} (learned upscale, --detail auto on this device)."
    assert said in report.notes and said in (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert runtime.loaded()["upscalers"] == 1  # it really ran


def test_a_preview_replayed_as_final_records_the_pass_that_ran_and_replays_identically(models_with_upscaler,
                                                                                     tmp_path, capsys):
    from packshot.core.cli.main import main as packshot
    from packshot.core.recipe import read_recipe

    out, models = _one_batch_output(tmp_path, models_with_upscaler, "--quality", "preview")
    preview = read_recipe(out / "item_000.png")
    assert preview.settings["detail"] == "auto" and CPU_UPSCALER not in preview.models  # no pass ran
    assert packshot(["replay", str(out / "item_000.png"), "--quality", "final", *models]) == 0
    final = read_recipe(out / "item_000.final.png")
    assert (final.settings["quality"], final.settings["detail"], final.settings["upscaler"]) == \
        ("final", "upscale", CPU_UPSCALER)
    assert final.models[CPU_UPSCALER]["role"] == RECIPE_ROLE and final.models[CPU_UPSCALER]["device"] == "cpu"
    capsys.readouterr()
    assert packshot(["replay", str(out / "item_000.final.png"), *models]) == 0
    assert "identical to the stored output (max pixel difference 0)" in capsys.readouterr().out


def test_a_final_output_replayed_as_final_keeps_the_pass_its_recipe_recorded(models_with_upscaler, tmp_path,
                                                                            monkeypatch):
    """Re-resolving ``auto`` for a final recipe could name a pass that did not run (an older recipe's "auto"
    ran the upscale alone; on a GPU auto now means the detail pass): the recorded fields are kept as they are."""
    import packshot.core.generation.upscale as upscale_module
    from packshot.core.cli.main import main as packshot
    from packshot.core.recipe import read_recipe

    out, models = _one_batch_output(tmp_path, models_with_upscaler)
    made = read_recipe(out / "item_000.png")

    def re_resolved(*args, **kwargs):
        raise AssertionError("a final recipe's pass was resolved again")

    monkeypatch.setattr(upscale_module, "record_ran", re_resolved)
    assert packshot(["replay", str(out / "item_000.png"), "--quality", "final", "--out",
                     str(tmp_path / "again.png"), *models]) == 0
    again = read_recipe(tmp_path / "again.png")
    assert (again.settings["detail"], again.settings["upscaler"]) == (made.settings["detail"],
                                                                     made.settings["upscaler"])
    assert again.models == made.models
