"""Final vs preview quality at full size (random weights): per stage, seconds per image, peak RSS.

    python -m tests.benchmarks.bench_preview                 # 2 steps of each measured, rest extrapolated
    python -m tests.benchmarks.bench_preview --measure-all   # every step of both qualities (slow on a CPU)
    python -m tests.benchmarks.bench_preview --device cuda

Both qualities run through ``render_background`` (the engine path): final = the paper's settings
(512 px, 20 UniPC steps, guidance 7.5 on every step, full VAE decode); preview =
``packshot.core.generation.preview.PREVIEW``. Stages are timed with step callbacks; a step with guidance
runs the UNet + ControlNet on a batch of 2, a step without on a batch of 1. The preview's mean
absolute pixel difference from the final of the same seed is printed too: with random weights it
is a plumbing figure (both decode noise-like images), not a quality measure.
Also: RSS growth over 50 preview generations with the tiny models (target <= 50 MB).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import torch

from packshot.core.generation.engines.diffusion import render_background
from packshot.core.generation.pipeline import BackgroundPipeline
from packshot.core.generation.preview import PREVIEW, plan_quality
from packshot.core.generation.settings import GenerationSettings
from packshot.core.images import Photo
from packshot.core.masking.result import MaskResult
from tests.factories.diffusion import build_components, write_tokenizer


def photo_and_mask(size: int) -> tuple[Photo, MaskResult]:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    product = (xx - size / 2) ** 2 + (yy - size / 2) ** 2 <= (size / 4) ** 2
    return Photo(pixels=pixels), MaskResult(mask=product, alpha=product.astype(np.float32), score=1.0, source="edited")


class StageClock:
    """Step end times from the pipeline's callback; stops the run after ``stop_after`` steps."""

    def __init__(self, stop_after: int | None) -> None:
        self.stamps: list[float] = []
        self.stop_after = stop_after

    def __call__(self, _p) -> None:
        self.stamps.append(time.perf_counter())
        if self.stop_after is not None and len(self.stamps) >= self.stop_after:
            raise _Enough()


class _Enough(Exception):
    pass


def time_quality(pipe, photo, mask, settings: GenerationSettings, tiny_decoder, measure_steps: int | None) -> dict:
    plan = plan_quality(settings.quality, settings.steps, settings.resolution)
    c = pipe.components
    canvas = np.zeros((plan.resolution, plan.resolution, 3), np.uint8)
    pipe.prompt_cache.clear()
    t0 = time.perf_counter()
    pipe.encode_prompt(settings.prompt)
    pipe.encode_prompt(settings.negative_prompt)
    text_s = time.perf_counter() - t0
    img = torch.from_numpy(canvas).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.inference_mode():
        t0 = time.perf_counter()
        latents = pipe.encode_image(img)
        encode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        (tiny_decoder if plan.tiny_decoder else c.vae).decode(
            latents / (1.0 if plan.tiny_decoder else c.vae.config.scaling_factor), return_dict=False)
        decode_s = time.perf_counter() - t0
    clock = StageClock(measure_steps)
    start = time.perf_counter()
    finished = True
    try:
        out = render_background(pipe, photo, mask, settings, controlnet_scale=1.0, progress=clock,
                                tiny_decoder=tiny_decoder)
    except _Enough:
        finished, out = False, None
    end = time.perf_counter()
    steps = np.diff([start] + clock.stamps)
    guided = min(plan.guidance_steps or plan.steps, plan.steps)
    # The first step also carries text + VAE encode; use the later steps of each kind.
    cfg_steps = steps[1:guided] if guided > 1 else steps[:1]
    cfg_step = float(np.median(cfg_steps)) if len(cfg_steps) else float("nan")
    plain = steps[guided:] if len(steps) > guided else []
    plain_step = float(np.median(plain)) if len(plain) else (cfg_step / 2 if guided < plan.steps else 0.0)
    per_image = text_s + encode_s + decode_s + guided * cfg_step + (plan.steps - guided) * plain_step
    return {"plan": plan, "text_s": text_s, "encode_s": encode_s, "decode_s": decode_s, "cfg_step_s": cfg_step,
            "plain_step_s": plain_step, "per_image_s": end - start if finished else per_image,
            "measured": finished, "image": out[0] if out is not None else None,
            "plain_measured": bool(len(plain))}


def rss_growth(generations: int) -> float:
    """MB of RSS growth over ``generations`` preview renders with the tiny models (after a warm-up)."""
    c = build_components("tiny", with_controlnet=True)
    pipe = BackgroundPipeline(c, torch.device("cpu"), torch.float32)
    photo, mask = photo_and_mask(256)
    settings = GenerationSettings(prompt="a product on a marble table", quality="preview", resolution=256)
    render_background(pipe, photo, mask, settings, controlnet_scale=1.0)
    gc.collect()
    before = psutil.Process().memory_info().rss
    for seed in range(generations):
        settings.seed = seed
        render_background(pipe, photo, mask, settings, controlnet_scale=1.0)
    gc.collect()
    return (psutil.Process().memory_info().rss - before) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--measure-all", action="store_true", help="run every step instead of extrapolating")
    parser.add_argument("--rss-generations", type=int, default=50)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    from diffusers import AutoencoderTiny

    tok = write_tokenizer(Path(tempfile.mkdtemp(prefix="bench-tok-")))
    c = build_components("full", with_controlnet=True, tokenizer_dir=tok)
    for module in c.modules():
        module.to(device, dtype)
    tiny = AutoencoderTiny().to(device, dtype).eval()  # TAESD's own architecture, random weights
    pipe = BackgroundPipeline(c, device, dtype)
    photo, mask = photo_and_mask(1024)
    base = dict(prompt="a product on a marble table", negative_prompt="blurry", seed=3)
    rows = {}
    for quality in ("final", "preview"):
        settings = GenerationSettings(**base, quality=quality)
        plan = plan_quality(quality, settings.steps, settings.resolution)
        # Measure enough steps to see both kinds (with and without guidance), unless told to run all.
        guided = plan.guidance_steps or plan.steps
        stop = None if args.measure_all else min(plan.steps, guided + 2 if guided < plan.steps else 3)
        rows[quality] = time_quality(pipe, photo, mask, settings, tiny, stop)
    peak = psutil.Process().memory_info().rss / 1e9
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"\nFull-size SI2 + ControlNet (random weights), {dev}, {dtype}; preview = {PREVIEW}")
    print(f"{'quality':<9}{'canvas':>7}{'steps':>6}{'guided':>7}{'text s':>8}{'encode s':>9}{'step+cfg s':>11}"
          f"{'step s':>8}{'decode s':>9}{'s / image':>11}")
    for quality, r in rows.items():
        p = r["plan"]
        guided = p.guidance_steps or p.steps
        note = "" if r["measured"] else " (extrapolated)"
        plain = f"{r['plain_step_s']:>8.2f}" if p.steps > guided else f"{'-':>8}"
        print(f"{quality:<9}{p.resolution:>7}{p.steps:>6}{guided:>7}{r['text_s']:>8.2f}{r['encode_s']:>9.2f}"
              f"{r['cfg_step_s']:>11.2f}{plain}{r['decode_s']:>9.2f}{r['per_image_s']:>11.1f}{note}")
    print(f"peak RSS {peak:.1f} GB")
    if rows["final"]["image"] is not None and rows["preview"]["image"] is not None:
        a, b = rows["final"]["image"].astype(np.float32), rows["preview"]["image"].astype(np.float32)
        print(f"preview vs final, same seed: mean abs pixel difference {np.abs(a - b).mean():.1f} "
              "(random weights: a plumbing figure, not quality)")
    del pipe, c, tiny
    gc.collect()
    if args.rss_generations:
        print(f"RSS growth over {args.rss_generations} preview generations (tiny models, 256 px): "
              f"{rss_growth(args.rss_generations):.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
