"""Compositing cost with and without edge decontamination: ``python -m tests.benchmarks.bench_composite``.

A real photo (scikit-image's ``chelsea``, resized) with a product blob whose soft edge is the
masking path's own (``soft_alpha``, guided by the photo, radius 0.25% of the long side), onto
white. Per size: the minimum wall time of ``repeats`` runs (noise on a shared CPU only adds time)
and the peak of NumPy allocations above the inputs (tracemalloc). The first call in the process
(pymatting import, numba cache load) is reported on its own. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc

import cv2
import numpy as np
import psutil


def scene(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import skimage.data

    from packshot.core.masking.postprocess import soft_alpha

    photo = cv2.resize(skimage.data.chelsea(), (width, height), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.ogrid[0:height, 0:width]
    wave = 0.05 * np.sin(6 * np.arctan2(yy - height / 2, xx - width / 2))
    product = ((xx - width / 2) / (width * 0.3)) ** 2 + ((yy - height / 2) / (height * 0.35)) ** 2 <= 1 + wave
    return photo, soft_alpha(product, photo), np.full((height, width, 3), 255, np.uint8)


def measure(photo, alpha, white, decontaminate: bool, repeats: int) -> tuple[float, float]:
    from packshot.core.generation.composite import composite

    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        composite(photo, alpha, white, decontaminate=decontaminate)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    composite(photo, alpha, white, decontaminate=decontaminate)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak / 2**20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2000 x 1500 only, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [(2000, 1500)] if args.quick else [(2000, 1500), (6000, 4000)]
    repeats = 1 if args.quick else args.repeats

    from packshot.core.generation.composite import composite

    photo, alpha, white = scene(400, 300)
    start = time.perf_counter()
    composite(photo, alpha, white)
    first = time.perf_counter() - start

    print(f"CPU: {platform.processor() or platform.machine()}, {psutil.cpu_count()} logical cores; "
          f"first decontaminated call (import + numba cache): {first:.2f} s")
    print("| photo | edge px | plain blend s | decontaminated s | cost s | plain MB | decontaminated MB |")
    print("|---|---|---|---|---|---|---|")
    for width, height in sizes:
        photo, alpha, white = scene(width, height)
        edge = int(((alpha > 0) & (alpha < 1)).sum())
        plain_s, plain_mb = measure(photo, alpha, white, False, repeats)
        clean_s, clean_mb = measure(photo, alpha, white, True, repeats)
        print(f"| {width} x {height} | {edge} | {plain_s:.3f} | {clean_s:.3f} | {clean_s - plain_s:+.3f} | "
              f"{plain_mb:.0f} | {clean_mb:.0f} |")


if __name__ == "__main__":
    main()
