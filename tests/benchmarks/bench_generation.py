"""Generation benchmark: our engine against a bare diffusers-style loop, and full-size seconds per image.

    python -m tests.benchmarks.bench_generation                      # tiny ratio + full-size CPU estimate
    python -m tests.benchmarks.bench_generation --skip-full          # tiny models only (seconds)
    python -m tests.benchmarks.bench_generation --device cuda --variants 4 --full-steps 20
    python -m tests.benchmarks.bench_generation --device cuda --engine flux2-klein --results rows.jsonl

(a) per-image time of ``render_background`` (letterbox + our BackgroundPipeline + un-letterbox) and
    of a minimal denoising loop written here, on the same components and settings; target <= 1.05.
(b) full-size SI2 + ControlNet architecture with random weights: one image at ``--full-steps``
    steps, timed per phase; on the CPU the 20-step figure is extrapolated from the measured
    per-step time (printed as such).
(c) ``--engine si2-controlnet|flux2-klein``: one engine's full-size architecture with random weights, built
    once on the device, then one row per ``--rows`` entry (dtype : variants per call : mode, mode being
    eager, channels_last, compile or compile+channels_last): a warm-up call (compilation included), then a
    timed one; seconds per image and peak GPU memory. Every row is time-boxed (``--row-timeout``) and
    appended to ``--results`` (JSON lines) as soon as it ends, so a run cut short keeps what it measured.
    si2-controlnet: the paper's SI2 UNet + ControlNet (shapes as published), ``BackgroundPipeline``, 512 px,
    20 steps, guidance 7.5. flux2-klein: FLUX.2 [klein] 4B's transformer (3.9B), FLUX.2 VAE and Qwen3-4B
    text encoder (configs as published; 7.75, 0.17 and 8.05 GB in bf16, the hub's file sizes) in diffusers'
    ``Flux2KleinInpaintPipeline``, run by the engine's ``generate_canvases``, 1024 px, 4 steps.
    ``--models tiny`` runs the same rows on the test-sized models (a CPU smoke test of this code).
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from packshot.core.generation.components import quiet_library_logs
from packshot.core.generation.engines.diffusion import render_background
from packshot.core.generation.pipeline import BackgroundPipeline
from packshot.core.generation.settings import GenerationSettings
from packshot.core.images import Photo
from packshot.core.masking.result import MaskResult
from tests.factories.diffusion import build_components, write_tokenizer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_loop(c, image: np.ndarray, generate: np.ndarray, prompt: str, negative: str, seeds: list[int],
              steps: int, guidance: float, scale: float, device, dtype) -> np.ndarray:
    """The textbook loop (diffusers' ControlNet-inpaint __call__ stripped to its arithmetic, 9 channels)."""
    from diffusers import UniPCMultistepScheduler

    with torch.inference_mode():
        def embed(text):
            ids = c.tokenizer(text, padding="max_length", max_length=c.tokenizer.model_max_length,
                              truncation=True, return_tensors="pt").input_ids.to(device)
            return c.text_encoder(ids)[0].to(dtype)

        n = len(seeds)
        embeds = torch.cat([embed(negative).expand(n, -1, -1), embed(prompt).expand(n, -1, -1)])
        img = torch.from_numpy(image).permute(2, 0, 1)[None].float().to(device) / 127.5 - 1
        mask = (torch.from_numpy(generate)[None, None].to(device) >= 0.5).to(dtype)
        masked = (img * (mask < 0.5)).to(dtype)
        masked_latents = c.vae.encode(masked).latent_dist.mode() * c.vae.config.scaling_factor
        h, w = masked_latents.shape[-2:]
        mask_latent = torch.nn.functional.interpolate(mask, size=(h, w))
        control = torch.from_numpy(generate)[None, None].to(device, dtype).repeat(1, 3, 1, 1)  # soft, as trained
        sched = UniPCMultistepScheduler.from_config(c.scheduler_config)
        sched.set_timesteps(steps, device=device)
        latents = torch.cat([torch.randn((1, 4, h, w), generator=torch.Generator().manual_seed(s)) for s in seeds])
        latents = latents.to(device, dtype) * sched.init_noise_sigma
        mask_in, masked_in = mask_latent.repeat(2 * n, 1, 1, 1), masked_latents.repeat(2 * n, 1, 1, 1)
        control_in = control.repeat(2 * n, 1, 1, 1)
        for t in sched.timesteps:
            x = sched.scale_model_input(torch.cat([latents] * 2), t)
            x = torch.cat([x, mask_in, masked_in], dim=1)
            down, mid = c.controlnet(x, t, encoder_hidden_states=embeds, controlnet_cond=control_in,
                                     conditioning_scale=scale, return_dict=False)
            eps = c.unet(x, t, encoder_hidden_states=embeds, down_block_additional_residuals=down,
                         mid_block_additional_residual=mid, return_dict=False)[0]
            u, p = eps.chunk(2)
            latents = sched.step(u + guidance * (p - u), t, latents, return_dict=False)[0]
        out = c.vae.decode(latents / c.vae.config.scaling_factor, return_dict=False)[0]
        out = (out.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        return (out * 255).round().astype(np.uint8)


def make_photo(size: int) -> tuple[Photo, MaskResult, np.ndarray]:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    product = (xx - size / 2) ** 2 + (yy - size / 2) ** 2 <= (size / 4) ** 2
    mask = MaskResult(mask=product, alpha=product.astype(np.float32), score=1.0, source="edited")
    return Photo(pixels=pixels), mask, (~product).astype(np.float32)


def compare(c, device, dtype, size: int, steps: int, variants: int, repeats: int) -> dict:
    """Interleaved runs of ours and the bare loop; the minimum per image of wall and CPU time.

    The minimum, not the median: on a CPU shared with other work, noise only ever adds time.
    """
    for module in c.modules():
        module.to(device, dtype)
    pipe = BackgroundPipeline(c, device, dtype)
    photo, mask, generate = make_photo(size)
    settings = GenerationSettings(prompt="a product on a marble table", negative_prompt="blurry", steps=steps,
                                  variants=variants, resolution=size)
    seeds = settings.variant_seeds()
    times: dict = {"ours": [], "stock": [], "bare": []}
    outputs = {}
    for r in range(repeats + 1):  # first round warms up (allocations, kernels)
        for which in ("ours", "stock", "bare") if r % 2 == 0 else ("bare", "stock", "ours"):
            _sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            if which in ("ours", "stock"):
                pipe.reuse_control_embedding = which == "ours"
                outputs[which] = render_background(pipe, photo, mask, settings, controlnet_scale=1.0)
            else:
                outputs[which] = bare_loop(c, photo.rgb8, generate, settings.prompt, settings.negative_prompt,
                                           seeds, steps, settings.guidance, 1.0, device, dtype)
            _sync(device)
            if r:
                times[which].append(((time.perf_counter() - t0) / variants, (time.process_time() - c0) / variants))
    diff = max(int(np.abs(o.astype(int) - b).max()) for which in ("ours", "stock")
               for o, b in zip(outputs[which], outputs["bare"]))
    result = {"max_pixel_diff": diff}
    for which, runs in times.items():
        result[which], result[which + "_cpu"] = min(t[0] for t in runs), min(t[1] for t in runs)
    return result


def full_size_timing(device, dtype, steps: int, variants: int, size: int, tokenizer_dir=None) -> dict:
    """Phase timings of one full-size run through our pipeline."""
    t0 = time.perf_counter()
    c = build_components("full", with_controlnet=True, tokenizer_dir=tokenizer_dir)
    built = time.perf_counter() - t0
    for module in c.modules():
        module.to(device, dtype)
    pipe = BackgroundPipeline(c, device, dtype)
    _, _, generate = make_photo(size)
    image = np.random.default_rng(1).integers(0, 256, (size, size, 3), dtype=np.uint8)
    stamps = []

    def on_step(*_):
        _sync(device)
        stamps.append(time.perf_counter())

    kwargs = dict(prompt="a product on a marble table", seeds=list(range(variants)), steps=steps)
    if device.type == "cuda":  # warm-up run: cuDNN autotuning and allocator growth
        pipe(image, generate, **kwargs)
    pipe.prompt_cache.clear()
    _sync(device)
    start = time.perf_counter()
    pipe(image, generate, **kwargs, callback_on_step_end=on_step)
    _sync(device)
    end = time.perf_counter()
    step_times = np.diff([stamps[0]] + stamps) if len(stamps) > 1 else np.array([])
    per_step = float(np.median(np.diff(stamps))) if len(stamps) > 1 else stamps[0] - start
    first_step_end = stamps[0]
    fixed = (end - start) - per_step * steps  # text + VAE encode/decode (+ first-step extra)
    return {"build_s": built, "total_s": end - start, "steps": steps, "per_step_s": per_step,
            "fixed_s": fixed, "first_step_done_s": first_step_end - start, "variants": variants,
            "per_image_20": (fixed + 20 * per_step) / variants, "step_times": step_times.tolist()}


# -- (c) one engine, rows of dtype x variants x mode --------------------------------------------------------
# FLUX.2 [klein] 4B as published (black-forest-labs/FLUX.2-klein-4B): 5 double + 20 single blocks, 24 heads
# of 128, text width 3 x 2560 (Qwen3-4B's hidden states 9, 18, 27); 3.88B parameters.
KLEIN_4B_TRANSFORMER = dict(
    patch_size=1, in_channels=128, num_layers=5, num_single_layers=20, attention_head_dim=128,
    num_attention_heads=24, joint_attention_dim=7680, timestep_guidance_channels=256, mlp_ratio=3.0,
    axes_dims_rope=(32, 32, 32, 32), rope_theta=2000, eps=1e-6, guidance_embeds=False,
)
QWEN3_4B = dict(vocab_size=151936, hidden_size=2560, intermediate_size=9728, num_hidden_layers=36,
                num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
                rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)
ENGINE_DEFAULTS = {  # size, steps, guidance, rows
    "si2-controlnet": (512, 20, 7.5, "fp16:1:eager,fp16:4:eager,bf16:1:eager,bf16:4:eager,"
                                     "fp16:1:compile+channels_last,fp16:4:compile+channels_last"),
    "flux2-klein": (1024, 4, 1.0, "bf16:1:eager,bf16:4:eager,fp16:1:eager,fp16:4:eager,"
                                  "bf16:1:compile+channels_last,bf16:4:compile+channels_last"),
}
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
MODES = ("eager", "channels_last", "compile", "compile+channels_last")


class RowTimeout(Exception):
    pass


@contextmanager
def time_box(seconds: float):
    """Raise ``RowTimeout`` in this (main) thread once ``seconds`` have passed: between two torch calls."""
    def on_alarm(*_):
        raise RowTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def require_device(device: torch.device) -> None:
    """One line and exit status 2 when CUDA is asked for and there is none."""
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"bench_generation: --device {device} needs an NVIDIA GPU with a CUDA build of torch; "
                         f"none here (torch {torch.__version__}, CUDA available: no).")


def parse_rows(text: str) -> list[tuple[str, int, str]]:
    rows = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        dtype, variants, mode = item.split(":")
        if dtype not in DTYPES or mode not in MODES or int(variants) < 1:
            raise SystemExit(f"bench_generation: bad row '{item}' (DTYPE:VARIANTS:MODE, DTYPE one of "
                             f"{', '.join(DTYPES)}, MODE one of {', '.join(MODES)}).")
        rows.append((dtype, int(variants), mode))
    return rows


def _building_on(device: torch.device):
    """Modules made inside are initialised on ``device`` (seconds on a GPU instead of minutes on its CPU)."""
    return torch.device(device) if device.type == "cuda" else _nothing()


@contextmanager
def _nothing():
    yield


class Si2Runner:
    """The paper's engine: full-size SI2 UNet + ControlNet + SD2 VAE and text encoder, ``BackgroundPipeline``."""

    def __init__(self, device: torch.device, models: str, tokenizer_dir: Path) -> None:
        with _building_on(device):
            self.c = build_components(models, with_controlnet=True, tokenizer_dir=tokenizer_dir)
        self.device = device

    def convs(self) -> list:
        return [self.c.unet, self.c.controlnet, self.c.vae]

    def denoisers(self) -> list:
        return [self.c.unet, self.c.controlnet]

    def place(self, dtype: torch.dtype) -> None:
        for module in self.c.modules():
            module.to(self.device, dtype)
        self.dtype = dtype

    def run(self, size: int, steps: int, guidance: float, variants: int) -> None:
        pipe = BackgroundPipeline(self.c, self.device, self.dtype)
        _, _, generate = make_photo(size)
        image = np.random.default_rng(1).integers(0, 256, (size, size, 3), dtype=np.uint8)
        pipe(image, generate, prompt="a product on a marble table", negative_prompt="blurry",
             seeds=list(range(variants)), steps=steps, guidance=guidance, max_batch=variants)


class KleinRunner:
    """FLUX.2 [klein] 4B: diffusers' Flux2KleinInpaintPipeline assembled as the engine's loader assembles it,
    run by the engine's own ``generate_canvases``."""

    def __init__(self, device: torch.device, models: str, tokenizer_dir: Path) -> None:
        from diffusers import (
            AutoencoderKLFlux2,
            FlowMatchEulerDiscreteScheduler,
            Flux2KleinInpaintPipeline,
            Flux2Transformer2DModel,
        )
        from transformers import Qwen2TokenizerFast, Qwen3Config, Qwen3ForCausalLM

        from packshot.core.generation.engines.flux2_klein import load_flux2_klein
        from tests.factories import flux2_klein as tiny

        self.device = device
        if models == "tiny":  # through the engine's real loading path
            folder = tiny.save_flux2_klein_folder(Path(tempfile.mkdtemp(prefix="bench-klein-")) / "klein")
            self.pipeline = load_flux2_klein(folder)
            return
        half = torch.bfloat16  # built in fp32 on the device, kept in half precision (peak ~24 GB, not 32)
        with _building_on(device):
            transformer = Flux2Transformer2DModel(**KLEIN_4B_TRANSFORMER).to(half)
            text_encoder = Qwen3ForCausalLM(Qwen3Config(**QWEN3_4B)).to(half)
            vae = AutoencoderKLFlux2().to(half)  # diffusers' defaults are the FLUX.2 VAE's shapes
        tokenizer = Qwen2TokenizerFast.from_pretrained(str(tiny.write_tokenizer(tokenizer_dir / "qwen")))
        scheduler = FlowMatchEulerDiscreteScheduler(**tiny.SCHEDULER)
        for module in (transformer, vae, text_encoder):
            module.eval().requires_grad_(False)
        self.pipeline = Flux2KleinInpaintPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder,
                                                  tokenizer=tokenizer, transformer=transformer, is_distilled=True)
        self.pipeline.set_progress_bar_config(disable=True)

    def convs(self) -> list:
        return [self.pipeline.vae]

    def denoisers(self) -> list:
        return [self.pipeline.transformer]

    def place(self, dtype: torch.dtype) -> None:
        for module in (self.pipeline.transformer, self.pipeline.vae, self.pipeline.text_encoder):
            module.to(self.device, dtype)
        self.dtype = dtype

    def run(self, size: int, steps: int, guidance: float, variants: int) -> None:
        from packshot.core.generation.engines.flux2_klein import generate_canvases

        _, _, generate = make_photo(size)
        canvas = np.random.default_rng(1).integers(0, 256, (size, size, 3), dtype=np.uint8)
        generate_canvases(self.pipeline, canvas, generate, prompt="a product on a marble table",
                          seeds=list(range(variants)), steps=steps, guidance=guidance, max_batch=variants)


def _set_mode(runner, mode: str) -> None:
    """channels_last on the convolutional modules; torch.compile (in place) on the denoisers."""
    memory_format = torch.channels_last if "channels_last" in mode else torch.contiguous_format
    for module in runner.convs():
        module.to(memory_format=memory_format)
    for module in runner.denoisers():
        if "compile" in mode:
            module.compile()
        else:
            module._compiled_call_impl = None  # undo an earlier row's compile


def engine_rows(engine: str, device: torch.device, models: str, rows: list[tuple[str, int, str]], size: int,
                steps: int, guidance: float, row_timeout: float, results: Path | None) -> list[dict]:
    """Build ``engine`` once, then time each row in turn; each row is printed and appended as it ends."""
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    t0 = time.perf_counter()
    tok = Path(tempfile.mkdtemp(prefix="bench-tok-"))
    runner = (KleinRunner if engine == "flux2-klein" else Si2Runner)(device, models, write_tokenizer(tok))
    print(f"# {engine} ({models} random weights) built on {dev} in {time.perf_counter() - t0:.0f} s; "
          f"{size} px, {steps} steps, guidance {guidance}", flush=True)
    print("| engine | px | steps | dtype | variants | mode | s/image | peak GPU GB | status |", flush=True)
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    out = []
    for dtype_name, variants, mode in rows:
        row = dict(engine=engine, models=models, device=dev, size=size, steps=steps, guidance=guidance,
                   dtype=dtype_name, variants=variants, mode=mode, s_per_image=None, peak_gb=None, status="ok")
        try:
            with time_box(row_timeout):
                with quiet_library_logs():  # "modules ... should be kept in float32: []" on every .to(dtype)
                    runner.place(DTYPES[dtype_name])
                _set_mode(runner, mode)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats(device)
                runner.run(size, steps, guidance, variants)  # warm-up: compilation, cuDNN autotuning
                _sync(device)
                start = time.perf_counter()
                runner.run(size, steps, guidance, variants)
                _sync(device)
                row["s_per_image"] = (time.perf_counter() - start) / variants
            if device.type == "cuda":
                row["peak_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
        except RowTimeout as exc:
            row["status"] = str(exc)
        except Exception as exc:  # an out-of-memory or a compile failure ends the row, not the run
            row["status"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        out.append(row)
        if results is not None:
            with open(results, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
        print(format_row(row), flush=True)
    return out


def format_row(row: dict) -> str:
    seconds = f"{row['s_per_image']:.3f}" if row.get("s_per_image") is not None else "-"
    peak = f"{row['peak_gb']:.1f}" if row.get("peak_gb") is not None else "-"
    return (f"| {row['engine']} | {row['size']} | {row['steps']} | {row['dtype']} | {row['variants']} | "
            f"{row['mode']} | {seconds} | {peak} | {row['status']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--tiny-steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", type=int, default=1)
    parser.add_argument("--full-steps", type=int, default=2, help="steps actually run at full size")
    parser.add_argument("--full-ratio-steps", type=int, default=0,
                        help="also compare ours vs bare at full size with this many steps (0 = skip)")
    parser.add_argument("--full-ratio-size", type=int, default=256)
    parser.add_argument("--full-repeats", type=int, default=1)
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-tiny", action="store_true")
    parser.add_argument("--skip-seconds", action="store_true", help="skip (b), the full-size 512 px timing")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    matrix = parser.add_argument_group("(c) one engine's rows (--engine)")
    matrix.add_argument("--engine", choices=sorted(ENGINE_DEFAULTS), help="run (c) for this engine, nothing else")
    matrix.add_argument("--models", choices=("full", "tiny"), default="full")
    matrix.add_argument("--rows", help="DTYPE:VARIANTS:MODE,... (default: the engine's six rows)")
    matrix.add_argument("--size", type=int, help="canvas side in px (default 512 / 1024)")
    matrix.add_argument("--steps", type=int, help="denoising steps (default 20 / 4)")
    matrix.add_argument("--guidance", type=float, help="guidance scale (default 7.5 / 1.0)")
    matrix.add_argument("--row-timeout", type=float, default=120.0, help="seconds one row may take")
    matrix.add_argument("--results", type=Path, help="append each row here as a JSON line")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    require_device(device)
    if args.engine:
        size, steps, guidance, rows = ENGINE_DEFAULTS[args.engine]
        torch.manual_seed(0)
        engine_rows(args.engine, device, args.models, parse_rows(args.rows or rows), args.size or size,
                    args.steps or steps, args.guidance if args.guidance is not None else guidance,
                    args.row_timeout, args.results)
        return 0
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    torch.manual_seed(0)
    rows = []
    tok = write_tokenizer(Path(tempfile.mkdtemp(prefix="bench-tok-")))
    if not args.skip_tiny:
        tiny = build_components("tiny", with_controlnet=True, tokenizer_dir=tok)
        r = compare(tiny, device, dtype, 512, args.tiny_steps, args.variants, args.repeats)
        rows.append(("tiny SI2+CN, 512 px", args.tiny_steps, r))
        del tiny
    full = None
    if not args.skip_full:
        if args.full_ratio_steps:
            c = build_components("full", with_controlnet=True, tokenizer_dir=tok)
            r = compare(c, device, dtype, args.full_ratio_size, args.full_ratio_steps, args.variants, args.full_repeats)
            rows.append((f"full SI2+CN, {args.full_ratio_size} px", args.full_ratio_steps, r))
            del c
        if not args.skip_seconds:
            full = full_size_timing(device, dtype, args.full_steps, args.variants, 512, tok)
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    if rows:
        print(f"\n(a) engine vs bare diffusers-style loop, {dev}, {dtype}, {args.variants} variant(s), best of "
              f"{args.repeats} (tiny) / {args.full_repeats} (full) interleaved runs after a warm-up; "
              "wall s / CPU s per image")
        print("  ours = engine path as shipped; ours-stock = same with the control embedding recomputed every\n"
              "  step like the stock loop (pure overhead comparison); bare = minimal loop in this file")
        print(f"{'model':<24}{'steps':>6}{'variant':>12}{'wall s':>9}{'ratio':>7}{'CPU s':>9}{'ratio':>7}"
              f"{'max px diff':>13}")
        for name, steps, r in rows:
            for which, label in (("ours", "ours"), ("stock", "ours-stock"), ("bare", "bare")):
                print(f"{name:<24}{steps:>6}{label:>12}{r[which]:>9.3f}{r[which] / r['bare']:>7.3f}"
                      f"{r[which + '_cpu']:>9.3f}{r[which + '_cpu'] / r['bare_cpu']:>7.3f}"
                      f"{r['max_pixel_diff'] if which == 'ours' else '':>13}")
    if full:
        measured = full["steps"] == 20
        print(f"\n(b) full-size SI2 + ControlNet (random weights), 512 x 512, {dev}, {dtype}")
        print(f"  model build (random init)        {full['build_s']:8.1f} s")
        print(f"  run: {full['steps']} steps x {full['variants']} variant(s)        {full['total_s']:8.2f} s")
        print(f"  per denoising step (CFG batch)   {full['per_step_s']:8.2f} s")
        print(f"  text + VAE encode/decode         {full['fixed_s']:8.2f} s")
        label = "measured" if measured else f"EXTRAPOLATED from {full['steps']} steps"
        print(f"  seconds per image at 20 steps    {full['per_image_20']:8.2f} s  ({label})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
