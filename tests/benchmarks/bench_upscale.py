"""The learned background upscale: ``python -m tests.benchmarks.bench_upscale [--device cuda] [--large]``.

Full-size Real-ESRGAN models with random weights (their time does not depend on the weights' values):
realesr-general-x4v3 (SRVGGNetCompact, the CPU default) and, with ``--large``, RealESRGAN x4plus
(RRDBNet, the GPU default). Per output size, the background the 512-pixel engine paints for a photo of
that size (its letterboxed area: 512 x 384 for 4:3, 512 x 341 for 3:2) is enlarged to the photo's
size. Prints seconds (minimum of ``--repeats``), seconds per output megapixel and the process's peak
RSS; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

SIZES = [(2000, 1500), (6000, 4000)]


def peak_rss_mb() -> float:
    """The process's peak resident memory (Linux: ru_maxrss in KB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--large", action="store_true", help="also RealESRGAN x4plus (slow on a CPU)")
    parser.add_argument("--quick", action="store_true", help="2000 x 1500 only")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--tile", type=int, default=0, help="input pixels per tile side (0: the upscaler's own)")
    args = parser.parse_args(argv)

    import torch

    from packshot.core.generation.framing import Letterbox
    from packshot.core.generation.upscale import CPU_UPSCALER, GPU_UPSCALER, load_upscaler
    from tests.factories.upscaler import write_compact, write_rrdb

    print(f"# {platform.processor() or platform.machine()}, {psutil.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, device {args.device}")
    print("| model | tile | output | from | s | s per output MP | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        models = [(CPU_UPSCALER, write_compact(Path(tmp), size="full", filename="w.safetensors"))]
        if args.large:
            models.append((GPU_UPSCALER, write_rrdb(Path(tmp), size="full", filename="w.safetensors")))
        rng = np.random.default_rng(0)
        for model_id, path in models:
            upscaler = load_upscaler(path, model_id, args.device, "0" * 64)
            upscaler.tile = args.tile or upscaler.tile
            for width, height in SIZES[:1] if args.quick else SIZES:
                box = Letterbox.fit(width, height, 512)
                background = rng.integers(0, 256, (box.inner_h, box.inner_w, 3), dtype=np.uint8)
                best = float("inf")
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    out = upscaler(background, (width, height))
                    if args.device.startswith("cuda"):
                        torch.cuda.synchronize()
                    best = min(best, time.perf_counter() - start)
                assert out.shape == (height, width, 3)
                print(f"| {model_id} | {upscaler.tile} | {width} x {height} | {box.inner_w} x {box.inner_h} | {best:.1f} | "
                      f"{best / (width * height / 1e6):.2f} | {peak_rss_mb():.0f} |", flush=True)
    if os.environ.get("OMP_NUM_THREADS"):
        print(f"# OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")


if __name__ == "__main__":
    main()
