"""The learned background upscale and the detail pass: ``python -m tests.benchmarks.bench_upscale [--device cuda]``.

Full-size Real-ESRGAN models with random weights (their time does not depend on the weights' values):
realesr-general-x4v3 (SRVGGNetCompact, the CPU default) and RealESRGAN x4plus (RRDBNet, the GPU default;
on the CPU only with ``--large``). Per output size, the background the 512-pixel engine paints for a photo
of that size (its letterboxed area: 512 x 384 for 4:3, 512 x 341 for 3:2) is enlarged to the photo's size.

On the CPU: 2000 x 1500 and 6000 x 4000, fp32, peak RSS. With ``--device cuda``: 2000 x 1500, 2000 x 2000
and 6000 x 4000 in fp16 (what ``packshot.core.generation.upscale.Upscaler`` runs on CUDA), after one warm-up call,
with the peak GPU memory of each row; then the detail pass (``--detail repaint``: the full-size SI2 +
ControlNet with random weights, fp16, 20 steps at strength 0.3, 512-pixel tiles) over a 2000 x 2000
upscaled background. Without CUDA, ``--device cuda`` says so in one line and exits 2. Prints seconds
(minimum of ``--repeats``) and seconds per output megapixel; asserts nothing (targets on a GPU: upscale
<= 0.2 s and detail pass <= 2 s at 2000 x 2000; on the CPU the compact upscale <= 15 s at 2000 x 1500).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

CPU_SIZES = [(2000, 1500), (6000, 4000)]
GPU_SIZES = [(2000, 1500), (2000, 2000), (6000, 4000)]
DETAIL_SIZE = (2000, 2000)
EXIT_NO_CUDA = 2


def peak_rss_mb() -> float:
    """The process's peak resident memory (Linux: ru_maxrss in KB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cuda_missing(device: str) -> str | None:
    """The one line that says why ``device`` cannot be benchmarked here, or None (a CPU, or CUDA present)."""
    if not device.startswith("cuda"):
        return None
    import torch

    if torch.cuda.is_available():
        return None
    built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    return (f"bench_upscale: --device {device} needs an NVIDIA GPU, and CUDA is not available here (torch "
            f"{torch.__version__}, {built}); run it on a machine with one, or leave --device out for the CPU rows.")


class Meter:
    """Seconds and peak memory of one row: GPU memory on CUDA, the process's peak RSS on the CPU."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch, self.cuda = torch, device.startswith("cuda")
        self.device = device

    def start(self) -> float:
        if self.cuda:
            self.torch.cuda.synchronize(self.device)
            self.torch.cuda.reset_peak_memory_stats(self.device)
        return time.perf_counter()

    def stop(self, start: float) -> float:
        if self.cuda:
            self.torch.cuda.synchronize(self.device)
        return time.perf_counter() - start

    def peak_mb(self) -> float:
        return self.torch.cuda.max_memory_allocated(self.device) / 2**20 if self.cuda else peak_rss_mb()


def upscale_rows(args: argparse.Namespace, meter: Meter, tmp: Path) -> None:
    from packshot.core.generation.framing import Letterbox
    from packshot.core.generation.upscale import CPU_UPSCALER, GPU_UPSCALER, load_upscaler
    from tests.factories.upscaler import write_compact, write_rrdb

    size = "tiny" if args.tiny else "full"
    models = [(CPU_UPSCALER, write_compact(tmp, size=size, filename="w.safetensors"))]
    if args.large or meter.cuda:
        models.append((GPU_UPSCALER, write_rrdb(tmp, size=size, filename="w.safetensors")))
    sizes = GPU_SIZES if meter.cuda else CPU_SIZES
    rng = np.random.default_rng(0)
    for model_id, path in models:
        upscaler = load_upscaler(path, model_id, args.device, "0" * 64)
        upscaler.tile = args.tile or upscaler.tile
        dtype = str(upscaler.dtype).removeprefix("torch.")
        if meter.cuda:  # cuDNN's autotuning and the allocator's growth are not the upscale's time
            upscaler(rng.integers(0, 256, (384, 512, 3), dtype=np.uint8), (2000, 1500))
        for width, height in sizes[:1] if args.quick else sizes:
            box = Letterbox.fit(width, height, 512)
            background = rng.integers(0, 256, (box.inner_h, box.inner_w, 3), dtype=np.uint8)
            best, peak = float("inf"), 0.0
            for _ in range(args.repeats):
                start = meter.start()
                out = upscaler(background, (width, height))
                best = min(best, meter.stop(start))
                peak = max(peak, meter.peak_mb())
            assert out.shape == (height, width, 3)
            print(f"| upscale {model_id} | {dtype} | {upscaler.tile} | {width} x {height} | "
                  f"{box.inner_w} x {box.inner_h} | {best:.2f} | {best / (width * height / 1e6):.3f} | {peak:.0f} |",
                  flush=True)


def detail_row(args: argparse.Namespace, meter: Meter, tmp: Path) -> None:
    """The detail pass at ``DETAIL_SIZE`` with the full-size SI2 + ControlNet (random weights)."""
    import torch

    from packshot.core.generation.detail import OVERLAP, REPAINT_STRENGTH, repaint, tile_starts
    from packshot.core.generation.pipeline import BackgroundPipeline
    from packshot.core.generation.settings import GenerationSettings
    from tests.factories.diffusion import build_components, write_tokenizer

    device = torch.device(args.device)
    dtype = torch.float16 if meter.cuda else torch.float32
    components = build_components("tiny" if args.tiny else "full", with_controlnet=True,
                                  tokenizer_dir=write_tokenizer(tmp / "tok"))
    for module in components.modules():
        module.to(device, dtype)
    pipeline = BackgroundPipeline(components, device, dtype)
    width, height = (1024, 1024) if args.quick else DETAIL_SIZE
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    background = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    product = np.zeros((height, width), np.float32)
    product[height // 4:3 * height // 4, width // 3:2 * width // 3] = 1.0  # a product in the middle
    settings = GenerationSettings(prompt="a product on a marble table", negative_prompt="blurry", steps=args.steps)
    if meter.cuda:  # warm-up: one tile
        repaint(pipeline, photo[:512, :512], product[:512, :512], background[:512, :512], settings, 0,
                controlnet_scale=1.0, tile=512)
    tiles = len(tile_starts(height, 512, OVERLAP)) * len(tile_starts(width, 512, OVERLAP))
    start = meter.start()
    out = repaint(pipeline, photo, product, background, settings, 0, controlnet_scale=1.0, tile=512)
    seconds = meter.stop(start)
    assert out.shape == (height, width, 3)
    steps = round(args.steps * REPAINT_STRENGTH)
    print(f"| detail pass (SI2 + ControlNet, {tiles} tiles x ~{steps} steps) | {str(dtype).removeprefix('torch.')} | "
          f"512 | {width} x {height} | {width} x {height} | {seconds:.2f} | {seconds / (width * height / 1e6):.3f} | "
          f"{meter.peak_mb():.0f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda / cuda:N")
    parser.add_argument("--large", action="store_true", help="on the CPU also RealESRGAN x4plus (slow); always on CUDA")
    parser.add_argument("--quick", action="store_true", help="the first output size only; the detail pass at 1024 x 1024")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--tile", type=int, default=0, help="input pixels per tile side (0: the upscaler's own)")
    parser.add_argument("--tiny", action="store_true", help="tiny random models: checks that it runs (times mean nothing)")
    parser.add_argument("--steps", type=int, default=20, help="denoising steps of the detail pass (default 20)")
    parser.add_argument("--detail-pass", choices=("auto", "on", "off"), default="auto",
                        help="the detail pass row: auto (on CUDA only; a CPU takes most of an hour), on, off")
    args = parser.parse_args(argv)

    problem = cuda_missing(args.device)
    if problem:
        print(problem, file=sys.stderr, flush=True)
        return EXIT_NO_CUDA
    import torch

    meter = Meter(args.device)
    where = torch.cuda.get_device_name(args.device) if meter.cuda else platform.processor() or platform.machine()
    print(f"# {where}, {psutil.cpu_count()} CPUs, torch {torch.__version__} threads {torch.get_num_threads()}, "
          f"device {args.device}; random weights (time, not quality){'; TINY models' if args.tiny else ''}")
    memory = "peak GPU MB" if meter.cuda else "peak RSS MB"
    print(f"| pass | dtype | tile | output | from | s | s per output MP | {memory} |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        upscale_rows(args, meter, Path(tmp))
        if args.detail_pass == "on" or (args.detail_pass == "auto" and meter.cuda):
            detail_row(args, meter, Path(tmp))
    if os.environ.get("OMP_NUM_THREADS"):
        print(f"# OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
