"""Preview quality, guidance on the first steps only, the tiny decoder and live previews (tiny models)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from packshot.core.errors import Cancelled
from packshot.core.generation.pipeline import BackgroundPipeline
from packshot.core.generation.preview import (
    PREVIEW,
    LivePreview,
    Quality,
    latents_to_rgb8,
    load_tiny_decoder,
    plan_quality,
)
from tests.factories.diffusion import build_components, save_taesd_folder


@pytest.fixture(scope="module")
def pipeline():
    return BackgroundPipeline(build_components("tiny", with_controlnet=True), torch.device("cpu"), torch.float32)


@pytest.fixture(scope="module")
def canvas():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    generate = np.ones((64, 64), np.float32)
    generate[16:48, 20:44] = 0.0
    return image, generate


def run(pipeline, canvas, **kwargs):
    image, generate = canvas
    args = dict(prompt="a marble table", negative_prompt="blurry", seeds=(3,), steps=6, guidance=7.5)
    args.update(kwargs)
    return pipeline(image, generate, **args)


def test_final_keeps_the_papers_settings():
    plan = plan_quality("final", 20, 512)
    assert (plan.steps, plan.resolution, plan.guidance_steps, plan.tiny_decoder) == (20, 512, None, False)


def test_preview_does_less_work_on_the_same_terms():
    plan = plan_quality(Quality.PREVIEW, 20, 512)
    assert plan.steps == PREVIEW.steps < 20
    assert plan.resolution == PREVIEW.resolution < 512 and plan.resolution % 8 == 0
    assert 1 <= plan.guidance_steps < plan.steps
    assert plan.tiny_decoder
    assert plan_quality("preview", 4, 256).steps == 4  # never more work than asked for


def test_guidance_on_every_step_is_the_same_as_no_cutoff(pipeline, canvas):
    assert np.array_equal(run(pipeline, canvas), run(pipeline, canvas, guidance_steps=6))


def test_guidance_cutoff_halves_the_later_batches(pipeline, canvas, monkeypatch):
    sizes = []
    unet = pipeline.components.unet
    original = unet.forward

    def spy(sample, *args, **kwargs):
        sizes.append(sample.shape[0])
        return original(sample, *args, **kwargs)

    monkeypatch.setattr(unet, "forward", spy)
    cut = run(pipeline, canvas, guidance_steps=2)
    monkeypatch.undo()
    assert sizes == [2, 2, 1, 1, 1, 1]  # (uncond, cond) twice, then cond alone
    assert not np.array_equal(cut, run(pipeline, canvas))


def test_tiny_decoder_loads_from_its_folder_and_decodes_full_size(pipeline, canvas, tmp_path):
    decoder = load_tiny_decoder(save_taesd_folder(tmp_path / "taesd"), torch.device("cpu"), torch.float32)
    full = run(pipeline, canvas, steps=2)
    tiny = run(pipeline, canvas, steps=2, decoder=decoder)
    assert tiny.shape == full.shape == (1, 64, 64, 3)
    assert not np.array_equal(tiny, full)


def test_live_previews_arrive_every_few_steps_and_cancel_stops_the_run(pipeline, canvas, tmp_path):
    decoder = load_tiny_decoder(save_taesd_folder(tmp_path / "taesd"), torch.device("cpu"), torch.float32)
    seen: list[tuple[int, tuple]] = []
    live = LivePreview(lambda step, images: seen.append((step, images.shape)), every=2, decoder=decoder)
    def on_step(_p, i, t, state):
        live(i, t, state)  # a step callback returns None (or new latents); the preview goes to the sink

    run(pipeline, canvas, callback_on_step_end=on_step)
    assert [step for step, _ in seen] == [1, 3, 5]
    assert all(shape == (1, 64, 64, 3) for _, shape in seen)

    steps_run = []

    def cancel_after_preview(_p, i, t, state):
        steps_run.append(i)
        live(i, t, state)
        if live.sent >= 4:
            raise Cancelled("Cancelled by the user.")

    with pytest.raises(Cancelled):
        run(pipeline, canvas, callback_on_step_end=cancel_after_preview)
    assert steps_run == [0, 1]


def test_linear_preview_without_a_decoder_is_an_eighth_of_the_canvas():
    latents = torch.zeros(1, 4, 8, 8)
    rgb = latents_to_rgb8(latents)
    assert rgb.shape == (1, 8, 8, 3) and rgb.dtype == np.uint8
