"""The flux2-klein engine on a tiny random FLUX.2 [klein] (tests/factories/flux2_klein.py), on the CPU.

Equality is to diffusers' own ``Flux2KleinInpaintPipeline.from_pretrained`` on the same canvas, mask,
seed and steps: the engine adds framing, seeds per variant, progress and cancel, never its own maths.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from packshot.core.errors import Cancelled, PackshotError
from packshot.core.generation.engines import engine_for
from packshot.core.generation.engines.flux2_klein import (
    DEFAULT_MODEL,
    Flux2KleinEngine,
    canvas_size,
    decide_plan,
    mask_image,
    plan_device,
    safetensors_params,
)
from packshot.core.generation.settings import GenerationSettings
from packshot.core.progress import CancelToken
from tests.core.generation.helpers import product_photo
from tests.factories.diffusion_fixtures import tiny_diffusion_models_dir  # noqa: F401
from tests.factories.flux2_klein import save_flux2_klein_folder

STEPS = 2


@pytest.fixture(scope="module")
def klein_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("klein-models")
    save_flux2_klein_folder(models / DEFAULT_MODEL)
    return models


@pytest.fixture(scope="module")
def runtime(klein_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from packshot.core.models.store import ModelStore
    from packshot.core.runtime import Runtime

    return Runtime(store=ModelStore(klein_dir, offline=True, use_hf_cache=False,
                                    download_dir=tmp_path_factory.mktemp("downloads")))


@pytest.fixture(scope="module")
def engine(runtime) -> Flux2KleinEngine:
    return engine_for(runtime, "flux2-klein", "cpu")


def settings(**changes) -> GenerationSettings:
    base = dict(prompt="a marble counter", steps=STEPS, resolution=64, guidance=1.0)
    base.update(changes)
    return GenerationSettings(**base)


def reference_pipeline(folder: Path):
    import torch
    from diffusers import Flux2KleinInpaintPipeline

    pipe = Flux2KleinInpaintPipeline.from_pretrained(str(folder), local_files_only=True, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def diffusers_output(pipe, canvas: np.ndarray, generate: np.ndarray, seed: int, reference=None) -> np.ndarray:
    import torch
    from PIL import Image

    h, w = generate.shape
    out = pipe(prompt="a marble counter", image=Image.fromarray(canvas), mask_image=mask_image(generate),
               image_reference=reference, height=h, width=w, strength=1.0, num_inference_steps=STEPS,
               guidance_scale=1.0, generator=torch.Generator().manual_seed(seed))
    return np.asarray(out.images[0])


def test_canvas_keeps_the_aspect_at_the_long_side_in_token_multiples():
    assert canvas_size(4000, 3000, 1024) == (1024, 768)
    assert canvas_size(3000, 4000, 1024) == (768, 1024)
    w, h = canvas_size(6000, 4000, 2048)  # capped at the pipeline's own 1 MP
    assert w * h <= 1024 * 1024 and w % 16 == 0 and h % 16 == 0 and abs(w / h - 1.5) < 0.02
    assert canvas_size(97, 61, 64) == (64, 48)


def test_output_equals_diffusers_pipeline_bit_for_bit(engine, klein_dir):
    # A photo the canvas' size: the engine's resizes are identity copies, so what is compared is the pipeline.
    photo, mask = product_photo(64, 48, seed=3)
    got = engine.render(photo, mask, settings(seed=7, variants=2))
    generate = 1.0 - mask.alpha
    pipe = reference_pipeline(klein_dir / DEFAULT_MODEL)
    for image, seed in zip(got, (7, 8)):
        assert image.shape == (48, 64, 3)
        np.testing.assert_array_equal(image, diffusers_output(pipe, photo.rgb8, generate, seed))
    assert not np.array_equal(got[0], got[1])  # variants differ by seed


def test_reference_changes_the_output_and_equals_diffusers(engine, klein_dir, tmp_path):
    from PIL import Image

    photo, mask = product_photo(64, 48, seed=3)
    ref = np.random.default_rng(5).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    Image.fromarray(ref).save(tmp_path / "look.png")
    plain = engine.render(photo, mask, settings())[0]
    styled = engine.render(photo, mask, settings(reference=str(tmp_path / "look.png")))[0]
    assert not np.array_equal(plain, styled)
    expected = diffusers_output(reference_pipeline(klein_dir / DEFAULT_MODEL), photo.rgb8, 1.0 - mask.alpha, 0,
                                reference=Image.open(tmp_path / "look.png").convert("RGB"))
    np.testing.assert_array_equal(styled, expected)


def test_replay_refuses_a_changed_reference(engine, tmp_path):
    from PIL import Image

    from packshot.core.jobs.settings import file_sha256

    photo, mask = product_photo(64, 48)
    path = tmp_path / "look.png"
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(path)
    recorded = file_sha256(path)
    first = engine.render(photo, mask, settings(reference=str(path), extra={"reference_sha256": recorded}))[0]
    again = engine.render(photo, mask, settings(reference=str(path), extra={"reference_sha256": recorded}))[0]
    np.testing.assert_array_equal(first, again)
    Image.fromarray(np.full((32, 32, 3), 91, np.uint8)).save(path)
    with pytest.raises(PackshotError, match="look.png is not the file"):
        engine.render(photo, mask, settings(reference=str(path), extra={"reference_sha256": recorded}))


def test_other_aspect_and_size_come_back_at_the_photo_size(engine):
    photo, mask = product_photo(97, 61)
    images = engine.render(photo, mask, settings())
    assert images[0].shape == (61, 97, 3)


def test_progress_every_step_and_cancel_between_steps(engine):
    photo, mask = product_photo(64, 48)
    seen = []
    engine.render(photo, mask, settings(variants=2), progress=seen.append)
    assert [(p.done, p.total) for p in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    token = CancelToken()

    def cancel_after_first(p):
        token.cancel()

    with pytest.raises(Cancelled):
        engine.render(photo, mask, settings(), progress=cancel_after_first, cancel=token)


FOUR_B = dict(transformer_params=3_900_000_000, text_params=4_000_000_000)  # FLUX.2 [klein] 4B + Qwen3-4B


@pytest.mark.parametrize("kind, memory_gb, bf16, expected", [
    ("cuda", 80.0, True, ("bfloat16", False)),   # H100: bf16, the whole model on the card
    ("cuda", 24.0, True, ("bfloat16", False)),   # RTX 4090
    ("cuda", 24.0, False, ("float16", False)),   # a card without bf16: fp16 (overflow-checked)
    ("cuda", 16.7, True, ("bfloat16", True)),    # a 16 GB card: weights + activations do not fit, offload
    ("cuda", 12.0, False, ("float16", True)),    # RTX 3060 12 GB: offload, one component at a time
    ("mps", 64.0, False, ("float16", False)),    # a 64 GB Mac
    ("mps", 32.0, True, ("float16", False)),     # 32 GB of unified memory: ~22 GB for the GPU
])
def test_device_decision_for_the_4b(kind, memory_gb, bf16, expected):
    assert decide_plan(kind, memory_gb=memory_gb, bf16=bf16, **FOUR_B) == expected


@pytest.mark.parametrize("kind, memory_gb, said", [
    ("cpu", 0.0, "minutes per image"),
    ("cuda", 8.0, "this one has 8 GB"),        # too small even for offload
    ("mps", 16.0, "16 GB of unified memory"),  # macOS lends the GPU ~11 GB: too little
    ("mps", 24.0, "24 GB of unified memory"),
])
def test_devices_that_cannot_hold_the_4b_are_refused_in_one_line(kind, memory_gb, said):
    with pytest.raises(PackshotError) as refused:
        decide_plan(kind, memory_gb=memory_gb, bf16=True, **FOUR_B)
    message = str(refused.value)
    assert "\n" not in message and said in message and "--engine si2-controlnet" in message


def test_small_models_run_anywhere_and_never_in_bf16_on_the_cpu():
    import torch

    tiny = dict(transformer_params=100_000, text_params=100_000)
    assert decide_plan("cpu", **tiny) == ("float32", False)
    assert decide_plan("cpu", memory_gb=0, bf16=True, **tiny) == ("float32", False)
    assert decide_plan("mps", memory_gb=8.0, **tiny) == ("float16", False)
    assert decide_plan("cuda", memory_gb=4.0, bf16=True, **tiny) == ("bfloat16", True)  # below 16 GB: offload
    plan = plan_device(torch.device("cuda"), 4_000_000_000, memory_gb=24, bf16=True)  # the torch wrapper
    assert (plan.dtype, plan.offload) == (torch.bfloat16, False)
    assert plan_device(torch.device("cpu"), 1000).dtype == torch.float32


def test_an_fp16_overflow_is_a_clear_error_not_a_noise_image(engine):
    """fp16 runs (CUDA without bf16, MPS) check every step's latents: inf/NaN stops the run with one line."""
    from packshot.core.generation.engines.flux2_klein import generate_canvases

    photo, mask = product_photo(64, 48)
    pipeline = engine.models(settings()).pipeline
    hook = pipeline.transformer.register_forward_hook(lambda _m, _i, out: (out[0] * float("inf"),))
    try:
        with pytest.raises(PackshotError) as overflow:
            generate_canvases(pipeline, photo.rgb8, 1.0 - mask.alpha, prompt="a marble counter", seeds=[0],
                              steps=STEPS, guidance=1.0, check_overflow=True)
        images = generate_canvases(pipeline, photo.rgb8, 1.0 - mask.alpha, prompt="a marble counter", seeds=[0],
                                   steps=STEPS, guidance=1.0, check_overflow=False)
    finally:
        hook.remove()
    message = str(overflow.value)
    assert "overflowed in float16" in message and "\n" not in message and "--engine si2-controlnet" in message
    assert images[0].shape == (48, 64, 3)  # unchecked (fp32, bf16) it would have gone on to a noise image


def test_tiny_model_is_small_enough_for_the_cpu(klein_dir):
    assert 0 < safetensors_params(klein_dir / DEFAULT_MODEL / "transformer") < 1_000_000_000


def test_cli_batch_with_a_reference_records_it_and_replays_bit_identically(tmp_path, klein_dir, capsys):
    from PIL import Image

    from packshot.core.cli.main import main as packshot
    from packshot.core.jobs.replay import replay
    from packshot.core.jobs.settings import file_sha256
    from packshot.core.recipe import read_recipe
    from tests.core.batch_helpers import write_photos

    write_photos(tmp_path / "in", 1, size=(80, 56))
    look = tmp_path / "in-refs" / "look.png"
    look.parent.mkdir()
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (32, 48, 3), dtype=np.uint8)).save(look)
    code = packshot(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--models-dir", str(klein_dir),
                     "--engine", "flux2-klein", "--reference", str(look), "--resolution", "64", "--steps", "2",
                     "--variants", "2", "--device", "cpu", "--masker", "classic", "--prior", "classic",
                     "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0, text
    outputs = sorted((tmp_path / "out").glob("*.png"))
    assert len(outputs) == 2
    recipe = read_recipe(outputs[0])
    assert recipe.engine == "flux2-klein" and DEFAULT_MODEL in recipe.models
    assert recipe.settings["reference"] == str(look) and recipe.settings["extra"]["reference_sha256"] == file_sha256(look)
    from packshot.core.runtime import Runtime

    out = np.asarray(Image.open(outputs[0]).convert("RGB"))
    again = replay(outputs[0], runtime=Runtime(klein_dir), device="cpu", allow=[look.parent])
    np.testing.assert_array_equal(again, out)  # one variant at a time on the CPU: bit-identical
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(look)
    with pytest.raises(PackshotError, match="replay needs the same reference"):
        replay(outputs[0], runtime=Runtime(klein_dir), device="cpu", allow=[look.parent])


def test_a_nine_b_is_never_used_in_place_of_the_four_b(tmp_path):
    from packshot.core.errors import ModelMissingError
    from packshot.core.models.store import ModelStore
    from packshot.core.runtime import Runtime

    save_flux2_klein_folder(tmp_path / "flux2-klein-9b")
    runtime = Runtime(store=ModelStore(tmp_path, offline=True, use_hf_cache=False, download_dir=tmp_path / "dl"))
    with pytest.raises(ModelMissingError, match="Non-Commercial.*--model flux2-klein-9b"):
        engine_for(runtime, "flux2-klein", "cpu").resolve_folder()
    named = engine_for(runtime, "flux2-klein", "cpu", model="flux2-klein-9b")
    assert named.resolve_folder() == tmp_path / "flux2-klein-9b"  # sharded text encoder counts as complete


def test_auto_still_means_the_papers_engine(klein_dir):
    from packshot.core.jobs import JobContext, JobSettings
    from packshot.core.runtime import Runtime

    ctx = JobContext(JobSettings.from_flat(dict(resolution=64, steps=2, device="cpu")), runtime=Runtime(klein_dir))
    assert ctx.engine_name == "white"  # the paper's weights are absent: never flux2-klein in its place


def test_cli_on_a_cpu_refuses_a_full_size_model_in_one_line_before_any_work(tmp_path, klein_dir, capsys,
                                                                            monkeypatch):
    from packshot.core.cli.main import main as packshot
    from packshot.core.generation.engines import flux2_klein
    from tests.core.batch_helpers import write_photos

    monkeypatch.setattr(flux2_klein, "CPU_MAX_TRANSFORMER_PARAMS", 10)  # the tiny model stands for the 4B
    write_photos(tmp_path / "in", 1, size=(80, 56))
    code = packshot(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--models-dir", str(klein_dir),
                     "--engine", "flux2-klein", "--device", "cpu", "--no-progress"])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code != 0
    lines = [line for line in text.splitlines() if "needs a GPU" in line]
    assert len(lines) == 1 and "--engine si2-controlnet" in lines[0] and "Traceback" not in text
    assert not list((tmp_path / "out").glob("*.png"))


def test_eval_measures_object_expansion_for_the_paper_and_flux2_klein(tmp_path, capsys, klein_dir,
                                                                     tiny_diffusion_models_dir, monkeypatch):  # noqa: F811
    import argparse

    from packshot.core.cli import eval_cmd
    from packshot.core.models import store as store_module
    from tests.core.quality.test_eval_outputs import make_folder, read_rows

    # The paper's tiny weights in the download folder, the tiny klein in the models folder.
    monkeypatch.setattr(store_module, "default_download_dir", lambda: tiny_diffusion_models_dir)
    photos, masks = make_folder(tmp_path, n=1, with_masks=1, size=(64, 48))
    parser = argparse.ArgumentParser(prog="packshot")
    eval_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", str(photos), "--out", str(tmp_path / "out"), "--masks", str(masks),
                              "--engines", "si2-controlnet,flux2-klein", "--steps", "2", "--resolution", "64",
                              "--reseg", "classic", "--device", "cpu", "--prompt", "a red box on marble",
                              "--models-dir", str(klein_dir)])
    assert args.func(args) == 0, capsys.readouterr().out
    rows = read_rows(tmp_path / "out" / "results.csv")
    assert [r["engine"] for r in rows] == ["si2-controlnet", "flux2-klein"]
    assert all(not r["error"] and r["expansion"] != "" for r in rows)


def test_live_previews_decode_the_current_latents_and_the_last_one_is_the_result(engine):
    photo, mask = product_photo(64, 48)
    seen = []

    def progress(p):
        seen.append(p)

    progress.preview_every = 1
    final = engine.render(photo, mask, settings(), progress=progress)[0]
    images = [p.image for p in seen]
    assert all(i is not None and i.shape == (1, 48, 64, 3) for i in images)
    # The last step's latents, blended with the product's, are what the pipeline decodes: the same picture.
    np.testing.assert_array_equal(images[-1][0], final)


def test_the_job_says_what_flux2_klein_ignores_or_does_not_need(klein_dir, tmp_path):
    from PIL import Image

    from packshot.core.jobs import JobContext, JobSettings
    from packshot.core.runtime import Runtime

    look = tmp_path / "look.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(look)
    ctx = JobContext(JobSettings.from_flat(dict(engine="flux2-klein", steps=20, device="cpu")),
                     runtime=Runtime(klein_dir))
    assert any("--steps 4" in n for n in ctx.notes)
    plain = JobContext(JobSettings.from_flat(dict(engine="white", reference=str(look))), runtime=Runtime(klein_dir))
    assert any("--reference has no effect" in n for n in plain.notes)
    named = JobContext(JobSettings.from_flat(dict(engine="flux2-klein", model="flux2-klein-9b", steps=4)),
                       runtime=Runtime(klein_dir))
    assert any("Non-Commercial" in n for n in named.notes)


# -- the learned upscale (packshot.core.generation.upscale), as for the paper's engine ------------------------------
@pytest.fixture(scope="module")
def klein_upscaled_dir(klein_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny klein beside a tiny SRVGGNetCompact (the CPU's upscaler) in one models folder."""
    from tests.factories.upscaler import write_compact

    models = tmp_path_factory.mktemp("klein-upscaled")
    (models / DEFAULT_MODEL).symlink_to(klein_dir / DEFAULT_MODEL, target_is_directory=True)
    write_compact(models)
    return models


class _Spy:
    """Passes calls on to a loaded upscaler and keeps what went in and came out."""

    def __init__(self, upscaler) -> None:
        self.upscaler, self.model_id, self.calls = upscaler, upscaler.model_id, []

    def __call__(self, image, size, cancel=None):
        out = self.upscaler(image, size, cancel=cancel)
        self.calls.append((image.shape, size, out))
        return out


def test_final_backgrounds_reach_the_photo_size_through_the_upscaler(klein_upscaled_dir, tmp_path, monkeypatch):
    from dataclasses import replace

    from packshot.core.generation.upscale import CPU_UPSCALER
    from packshot.core.jobs.render import render_images
    from packshot.core.models.store import ModelStore
    from packshot.core.runtime import Runtime

    runtime = Runtime(store=ModelStore(klein_upscaled_dir, offline=True, use_hf_cache=False,
                                       download_dir=tmp_path / "downloads"))
    engine = engine_for(runtime, "flux2-klein", "cpu")
    photo, mask = product_photo(150, 96)  # a 64 x 48 canvas, enlarged about 2.3 times
    final = settings()
    spy = _Spy(engine.upscaler_for(final))
    assert spy.model_id == CPU_UPSCALER
    monkeypatch.setattr(engine, "upscaler_for", lambda s: spy if engine.upscaler_id(s) else None)
    seen = []
    upscaled = render_images(engine, photo, mask, final, progress=seen.append)[0]
    assert [(shape, size) for shape, size, _ in spy.calls] == [((48, 64, 3), (150, 96))]
    assert "enlarging the background" in seen[-1].message and seen[-1].done == seen[-1].total
    background = mask.alpha <= 0.0
    np.testing.assert_array_equal(upscaled[background], spy.calls[0][2][background])  # the upscaler's pixels
    solid = mask.alpha >= 1.0
    assert np.array_equal(upscaled[solid], photo.pixels[solid])  # the product, bit-exact
    bicubic = render_images(engine, photo, mask, replace(final, detail="off"))[0]
    preview = render_images(engine, photo, mask, replace(final, quality="preview"))[0]
    assert len(spy.calls) == 1  # neither --detail off nor a preview upscales
    assert np.array_equal(bicubic[solid], photo.pixels[solid]) and preview.shape == upscaled.shape
    assert not np.array_equal(bicubic[background], upscaled[background])
    assert engine.upscaler_record(final)[CPU_UPSCALER]["role"] == "upscaler"


def test_an_upscaled_klein_output_records_its_upscaler_and_replays_identically(klein_upscaled_dir, tmp_path,
                                                                               capsys):
    from packshot.core.cli.main import main as packshot
    from packshot.core.generation.upscale import CPU_UPSCALER, RECIPE_ROLE
    from packshot.core.jobs.settings import file_sha256
    from packshot.core.recipe import read_recipe
    from tests.core.batch_helpers import write_photos

    write_photos(tmp_path / "in", 1, size=(150, 96))
    models = ["--models-dir", str(klein_upscaled_dir), "--device", "cpu"]
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--engine", "flux2-klein",
                     "--resolution", "64", "--steps", "2", "--guidance", "1", "--masker", "classic", "--prior",
                     "classic", "--no-progress", *models]) == 0
    recipe = read_recipe(tmp_path / "out" / "item_000.png")
    weights = next((klein_upscaled_dir / CPU_UPSCALER).iterdir())
    assert next(iter(recipe.models)) == DEFAULT_MODEL  # the engine's model first: replay reads it from there
    record = recipe.models[CPU_UPSCALER]  # (the upscaler's record may say more, e.g. the device it ran on)
    assert {k: record.get(k) for k in ("revision", "path", "role", "sha256")} == {
        "revision": "local", "path": str(weights.resolve()), "role": RECIPE_ROLE, "sha256": file_sha256(weights)}
    capsys.readouterr()
    assert packshot(["replay", str(tmp_path / "out" / "item_000.png"), *models]) == 0
    assert "identical to the stored output (max pixel difference 0)" in capsys.readouterr().out


def test_a_resolution_past_the_pipelines_cap_is_said(klein_dir):
    from packshot.core.jobs import JobContext, JobSettings
    from packshot.core.runtime import Runtime

    def notes(**flat) -> list[str]:
        return JobContext(JobSettings.from_flat(dict(engine="flux2-klein", steps=4, device="cpu", **flat)),
                          runtime=Runtime(klein_dir)).notes

    capped = [n for n in notes(resolution=2048) if "1 megapixel" in n]
    assert len(capped) == 1 and "1024 x 1024 for a square photo" in capped[0] and "\n" not in capped[0]
    assert not any("1 megapixel" in n for n in notes(resolution=1024))
    assert not any("1 megapixel" in n for n in notes(resolution=2048, quality="preview"))  # previews are small
