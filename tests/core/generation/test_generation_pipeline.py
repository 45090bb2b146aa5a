"""The generative engines on tiny random-weight models in the real on-disk formats."""

from __future__ import annotations

import shutil
import sys

import cv2
import numpy as np
import pytest
import torch

from packshot.core.errors import Cancelled, ModelMissingError
from packshot.core.generation.components import load_components
from packshot.core.generation.engines import engine_for
from packshot.core.generation.settings import GenerationSettings
from packshot.core.progress import CancelToken
from packshot.core.runtime import Runtime
from tests.core.generation.helpers import CallRecorder, product_photo
from tests.factories.diffusion import PIPELINE_MARKER

FAST = dict(prompt="a bottle on marble", steps=2, resolution=64)


def fast(**changes) -> GenerationSettings:
    return GenerationSettings(**{**FAST, **changes})


@pytest.fixture
def paper_engine(tiny_diffusion_runtime):
    return engine_for(tiny_diffusion_runtime, "si2-controlnet", "cpu")


def test_controlnet_gets_the_unets_nine_channels_and_the_soft_inverted_map(paper_engine):
    photo, mask = product_photo(96, 64)
    components = paper_engine.models().components
    with CallRecorder(components.controlnet) as cn, CallRecorder(components.unet) as unet:
        paper_engine.render(photo, mask, fast())
    # What the authors feed: the soft object map, area-averaged to the 64 x 43 letterbox (96 x 64
    # centred, pad rows on top and bottom count as background), then inverted.
    inner = cv2.resize(mask.alpha, (64, 43), interpolation=cv2.INTER_AREA)
    product = np.zeros((64, 64), np.float32)
    product[10:53] = inner
    expected = torch.from_numpy(1.0 - product)
    assert ((expected > 0) & (expected < 1)).sum() > 20  # the map really is soft at the edge
    assert len(cn.calls) == 2 and len(unet.calls) == 2  # one call per step, CFG halves batched
    for (cn_args, cn_kwargs), (unet_args, _) in zip(cn.calls, unet.calls):
        sample = cn_args[0]
        assert sample.shape[1] == 9
        assert torch.equal(sample, unet_args[0])  # the very same tensor as the UNet's input
        control = cn_kwargs["controlnet_cond"]
        assert control.shape == (2, 3, 64, 64)
        assert torch.equal(control, expected.expand(2, 3, 64, 64))  # exactly the soft map, not binarised
        # The UNet's mask channel (4) is that map binarised at 0.5, at latent size: 1 = generate.
        binary = (expected >= 0.5).float()[None, None]
        assert set(torch.unique(sample[:, 4]).tolist()) == {0.0, 1.0}
        assert torch.equal(sample[:, 4:5], torch.nn.functional.interpolate(binary, size=(8, 8)).expand(2, 1, 8, 8))
    control = cn.calls[0][1]["controlnet_cond"][0, 0]
    assert control[0].min() == 1.0 and control[32, 32] == 0.0


def test_masked_image_keeps_the_product_where_the_binarised_mask_is_zero(paper_engine):
    pipe = paper_engine.pipeline
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    soft = np.tile(np.linspace(0.0, 1.0, 16, dtype=np.float32), (16, 1))
    img, mask, masked, control = pipe.prepare_inputs(image, soft)
    assert torch.equal(control[0, 0], torch.from_numpy(soft)) and control.shape == (1, 3, 16, 16)
    assert torch.equal(mask[0, 0], torch.from_numpy((soft >= 0.5).astype(np.float32)))
    keep = torch.from_numpy(soft < 0.5)
    assert torch.equal(masked[0][:, keep], img[0][:, keep]) and (masked[0][:, ~keep] == 0).all()


def test_controlnet_scale_changes_the_output_and_seeds_reproduce_bit_exactly(paper_engine):
    photo, mask = product_photo(80, 80)
    with_cn = paper_engine.render(photo, mask, fast(controlnet_scale=1.0))[0]
    again = paper_engine.render(photo, mask, fast(controlnet_scale=1.0))[0]
    without = paper_engine.render(photo, mask, fast(controlnet_scale=0.0))[0]
    other_seed = paper_engine.render(photo, mask, fast(seed=7))[0]
    assert with_cn.shape == (80, 80, 3) and with_cn.dtype == np.uint8
    assert np.array_equal(with_cn, again)
    assert np.abs(with_cn.astype(int) - without).mean() > 1.0
    assert not np.array_equal(with_cn, other_seed)


def test_variants_are_batched_in_one_call_per_step_with_their_own_seeds(paper_engine):
    photo, mask = product_photo(64, 64)
    unet = paper_engine.models().components.unet
    assert paper_engine.batch_size(paper_engine.models()) == 1  # CPU default: one variant at a time
    paper_engine.max_batch = 3  # as on a GPU
    try:
        with CallRecorder(unet) as rec:
            images = paper_engine.render(photo, mask, fast(variants=3, seed=10))
    finally:
        paper_engine.max_batch = None
    assert len(rec.calls) == 2 and rec.calls[0][0][0].shape[0] == 6  # 3 variants x (uncond, cond)
    assert len(images) == 3 and not np.array_equal(images[0], images[1])
    # Variant 2 (seed 11) alone matches its batched self up to batch numerics...
    alone = paper_engine.render(photo, mask, fast(seeds=(11,)))[0]
    assert np.abs(alone.astype(int) - images[1]).max() <= 2
    # ... and exactly with the CPU default, so a recipe (seed, settings) replays bit-exactly.
    with CallRecorder(unet) as rec:
        sequential = paper_engine.render(photo, mask, fast(variants=3, seed=10))
    assert len(rec.calls) == 6 and rec.calls[0][0][0].shape[0] == 2
    assert np.array_equal(sequential[1], alone)


def test_prompt_embeddings_are_cached_per_distinct_prompt(paper_engine):
    photo, mask = product_photo(64, 64)
    pipe = paper_engine.pipeline
    pipe.prompt_cache.clear()
    encoder = paper_engine.models().components.text_encoder
    with CallRecorder(encoder) as rec:
        paper_engine.render(photo, mask, fast(prompt="studio shot"))
        assert len(rec.calls) == 2  # prompt and negative prompt
        paper_engine.render(photo, mask, fast(prompt="studio shot", seed=3))
        assert len(rec.calls) == 2
        paper_engine.render(photo, mask, fast(prompt="kitchen counter"))
        assert len(rec.calls) == 3
    assert pipe.prompt_cache.hits == 3 and pipe.prompt_cache.misses == 3


def test_cancel_stops_within_one_step_and_progress_counts_steps(paper_engine):
    photo, mask = product_photo(64, 64)
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append((p.done, p.total))
        if p.done == 2:
            token.cancel()

    unet = paper_engine.models().components.unet
    with CallRecorder(unet) as rec, pytest.raises(Cancelled):
        paper_engine.render(photo, mask, fast(steps=10), progress, token)
    assert len(rec.calls) == 2
    assert seen == [(1, 10), (2, 10)]
    token2 = CancelToken()
    token2.cancel()
    with CallRecorder(unet) as rec, pytest.raises(Cancelled):
        paper_engine.render(photo, mask, fast(), cancel=token2)
    assert rec.calls == []


@pytest.mark.parametrize("scheduler", ["ddim", "euler", "dpm++"])
def test_other_schedulers_run_and_differ_from_unipc(paper_engine, scheduler):
    photo, mask = product_photo(64, 64)
    base = paper_engine.render(photo, mask, fast(steps=3))[0]
    other = paper_engine.render(photo, mask, fast(steps=3, scheduler=scheduler))[0]
    assert other.shape == base.shape and not np.array_equal(base, other)


def test_hub_shaped_folder_loads_without_executing_its_pipeline_py(tiny_diffusion_models_dir):
    folder = tiny_diffusion_models_dir / "photo-background-generation"
    assert (folder / "pipeline.py").is_file()
    components = load_components(folder, with_controlnet=True)
    assert components.controlnet.config.in_channels == 9
    assert not (folder / PIPELINE_MARKER).exists()
    assert not any(getattr(m, "__file__", None) == str(folder / "pipeline.py") for m in list(sys.modules.values()))


def test_stray_pipeline_py_really_would_leave_a_marker(tmp_path, tiny_diffusion_models_dir):
    """Guards the test above: executing the stray file does leave the marker it looks for."""
    import runpy

    copy = tmp_path / "pipeline.py"
    shutil.copy(tiny_diffusion_models_dir / "photo-background-generation" / "pipeline.py", copy)
    with pytest.raises(ImportError):
        runpy.run_path(str(copy))
    assert (tmp_path / PIPELINE_MARKER).exists()


def test_si2_engine_runs_without_controlnet_from_the_sd2_folder(tiny_diffusion_runtime):
    engine = engine_for(tiny_diffusion_runtime, "si2", "cpu")
    assert engine.resolve_folder().name == "sd2-inpainting"
    assert engine.models().components.controlnet is None
    photo, mask = product_photo(72, 40)
    out = engine.render(photo, mask, fast())
    assert out[0].shape == (40, 72, 3)


def test_si2_falls_back_to_the_paper_folder_and_equals_controlnet_scale_zero(tiny_diffusion_models_dir, tmp_path):
    from packshot.core.models.store import ModelStore

    only_paper = tmp_path / "models"
    only_paper.mkdir()
    (only_paper / "photo-background-generation").symlink_to(tiny_diffusion_models_dir / "photo-background-generation")
    store = ModelStore(only_paper, offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    runtime = Runtime(store=store)
    si2 = engine_for(runtime, "si2", "cpu")
    paper = engine_for(runtime, "si2-controlnet", "cpu")
    assert si2.resolve_folder().name == "photo-background-generation"
    photo, mask = product_photo(64, 64)
    baseline = si2.render(photo, mask, fast())[0]
    zero = paper.render(photo, mask, fast(controlnet_scale=0.0))[0]
    assert np.array_equal(baseline, zero)
    assert si2.models() is paper.models()  # one copy of the SI2 weights in memory


def test_missing_models_raise_a_message_naming_the_fix(tmp_path):
    from packshot.core.models.store import ModelStore

    store = ModelStore(tmp_path / "empty", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    runtime = Runtime(store=store)
    engine = engine_for(runtime, "si2-controlnet", "cpu")
    assert engine.needs_models and engine.model_ids == ("photo-background-generation",)
    assert not engine.available()
    with pytest.raises(ModelMissingError, match="packshot models download photo-background-generation"):
        engine.render(*product_photo(), fast())
    with pytest.raises(ModelMissingError, match="sd2-inpainting"):
        engine_for(runtime, "si2", "cpu").render(*product_photo(), fast())


def test_stock_diffusers_controlnet_inpaint_pipeline_fails_on_the_nine_channel_controlnet(paper_engine):
    """Why we run our own loop: the stock pipeline feeds the ControlNet 4 channels."""
    from diffusers import StableDiffusionControlNetInpaintPipeline, UniPCMultistepScheduler
    from PIL import Image

    c = paper_engine.models().components
    stock = StableDiffusionControlNetInpaintPipeline(
        vae=c.vae, text_encoder=c.text_encoder, tokenizer=c.tokenizer, unet=c.unet, controlnet=c.controlnet,
        scheduler=UniPCMultistepScheduler.from_config(c.scheduler_config), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False)
    stock.set_progress_bar_config(disable=True)
    white = Image.new("RGB", (64, 64), "white")
    with pytest.raises(RuntimeError, match="channels"):
        stock("x", image=white, mask_image=white, control_image=white, num_inference_steps=1, height=64, width=64)


def test_our_loop_matches_a_textbook_loop_and_embeds_the_control_image_once(paper_engine):
    from tests.benchmarks.bench_generation import bare_loop, make_photo

    photo, mask, generate = make_photo(64)
    generate = cv2.GaussianBlur(generate, (0, 0), 2.0)  # a soft edge: both loops feed it to the ControlNet as is
    assert ((generate > 0.05) & (generate < 0.95)).any()
    c = paper_engine.models().components
    pipe = paper_engine.pipeline
    embedding = c.controlnet.controlnet_cond_embedding
    with CallRecorder(embedding.conv_in) as rec:
        ours = pipe(photo.rgb8, generate, prompt="p", negative_prompt="n", seeds=[4, 5], steps=3)
    assert len(rec.calls) == 1  # once per call, not once per step
    assert "forward" not in vars(embedding)  # the per-call shortcut is removed afterwards
    textbook = bare_loop(c, photo.rgb8, generate, "p", "n", [4, 5], 3, 7.5, 1.0, torch.device("cpu"),
                         torch.float32)
    assert np.array_equal(ours, textbook)


def test_cpu_offload_placement_gives_the_same_images(tiny_diffusion_models_dir):
    from packshot.core.generation.components import load_components
    from packshot.core.generation.pipeline import BackgroundPipeline
    from packshot.core.generation.placement import place, remove_hooks, wants_offload

    assert wants_offload(torch.device("cuda"), 4.0) and not wants_offload(torch.device("cuda"), 24.0)
    assert not wants_offload(torch.device("cpu"), 4.0)
    from tests.benchmarks.bench_generation import make_photo

    photo, _, generate = make_photo(64)
    c = load_components(tiny_diffusion_models_dir / "photo-background-generation", with_controlnet=True)
    assert place(c, torch.device("cpu"), torch.float32, offload=False) == []
    plain = BackgroundPipeline(c, torch.device("cpu"), torch.float32)(photo.rgb8, generate, prompt="p", steps=2)
    hooks = place(c, torch.device("cpu"), torch.float32, offload=True)
    assert len(hooks) == 4  # text encoder -> controlnet -> unet -> vae, chained
    offloaded = BackgroundPipeline(c, torch.device("cpu"), torch.float32)(photo.rgb8, generate, prompt="p", steps=2)
    remove_hooks(hooks)
    assert np.array_equal(plain, offloaded)


def test_loading_and_placing_models_logs_no_library_warnings_and_restores_levels(tiny_diffusion_models_dir):
    """diffusers warns "should be kept in float32: []" on each .to(dtype); users must not see it."""
    import logging

    from packshot.core.generation.components import QUIET_LIBRARIES
    from packshot.core.generation.placement import place

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(logging.DEBUG)
            self.records = []

        def emit(self, record):
            self.records.append(record)

    loggers = [logging.getLogger(name) for name in QUIET_LIBRARIES]
    before = [lg.level for lg in loggers]
    collect = Collect()
    for lg in loggers:
        lg.addHandler(collect)
    try:
        c = load_components(tiny_diffusion_models_dir / "photo-background-generation", with_controlnet=True)
        place(c, torch.device("cpu"), torch.float32, offload=False)
        # The check works: outside our loading, the same call does warn.
        c.unet.to(device=torch.device("cpu"), dtype=torch.float32)
        outside = [r for r in collect.records if r.levelno >= logging.WARNING]
    finally:
        for lg in loggers:
            lg.removeHandler(collect)
    assert [lg.level for lg in loggers] == before
    assert len(outside) == 1 and "kept in float32" in outside[0].getMessage()
