"""Batch throughput and memory: ``python -m tests.benchmarks.bench_batch [--quick]``.

Measures, through the real ``BatchJob`` (read -> mask -> render -> composite -> save -> store):
1. photos per minute, white engine + classic mask, 2000 px photos;
2. photos per minute, tiny SI2 + ControlNet models (real on-disk format) with QC on;
3. RSS growth over 200 photos (white engine): target <= 50 MB once warm.
Prints a table; nothing is asserted, the numbers go in the report.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import psutil

from packshot.core.jobs import BatchJob, JobSettings
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import no_models_runtime, write_photos


def _rate(inp: Path, out: Path, settings: JobSettings, runtime) -> tuple[float, float, int]:
    job = BatchJob(inp, out, settings, runtime=runtime)
    job.prepare()
    start = time.perf_counter()
    summary = job.run()
    seconds = time.perf_counter() - start
    if summary.failed:
        raise SystemExit(f"benchmark batch failed: {summary.failed}")
    n = len(summary.done)
    return n / seconds * 60.0, seconds / n, n


def bench_white(tmp: Path, count: int) -> tuple[str, float, float, int]:
    inp = tmp / "white-in"
    write_photos(inp, count, size=(2000, 1500))
    # warm-up on one photo: imports and OpenCV start-up are not per-photo costs
    warm = tmp / "warm-in"
    write_photos(warm, 1, size=(2000, 1500))
    _rate(warm, tmp / "warm-out", JobSettings(engine="white"), no_models_runtime(tmp))
    per_min, per_photo, n = _rate(inp, tmp / "white-out", JobSettings(engine="white"), no_models_runtime(tmp))
    return "white engine + classic mask, 2000 x 1500 JPEG -> PNG", per_min, per_photo, n


def bench_tiny(tmp: Path, count: int, resolution: int, steps: int) -> tuple[str, float, float, int]:
    from packshot.core.models.store import ModelStore
    from tests.factories.diffusion import build_models_dir

    models = build_models_dir(tmp / "models")
    store = ModelStore(models, offline=True, download_dir=tmp / "dl", use_hf_cache=False)
    inp = tmp / "tiny-in"
    write_photos(inp, count, size=(640, 480))
    settings = JobSettings.from_flat(dict(engine="si2-controlnet", template="studio", resolution=resolution, steps=steps,
                           device="cpu"))
    warm = tmp / "tiny-warm"
    write_photos(warm, 1, size=(640, 480))
    runtime = Runtime(store=store)
    _rate(warm, tmp / "tiny-warm-out", settings, runtime)  # loads the models once
    per_min, per_photo, n = _rate(inp, tmp / "tiny-out", settings, runtime)
    return (f"tiny SI2+ControlNet, {resolution} px, {steps} steps, QC on, 640 x 480", per_min, per_photo, n)


def bench_memory(tmp: Path, count: int, warmup: int = 20) -> tuple[float, float, float]:
    inp = tmp / "mem-in"
    base = write_photos(tmp / "mem-src", 10, size=(800, 600))
    inp.mkdir()
    for i in range(count):  # distinct files (names) with recycled content: cheap to make, all processed
        shutil.copyfile(base[i % len(base)], inp / f"p{i:04d}.jpg")
    proc = psutil.Process()
    samples: list[float] = []
    job = BatchJob(inp, tmp / "mem-out", JobSettings(engine="white"), runtime=no_models_runtime(tmp))
    job.prepare()

    def on_photo(_outcome) -> None:
        if len(samples) % 10 == 0:
            gc.collect()
        samples.append(proc.memory_info().rss / 2**20)

    job.run(on_photo=on_photo)
    warm = samples[warmup - 1]
    return warm, samples[-1], max(samples[warmup - 1:]) - warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer photos (a smoke run)")
    parser.add_argument("--tiny-resolution", type=int, default=128)
    parser.add_argument("--tiny-steps", type=int, default=20)
    args = parser.parse_args()
    n_white, n_tiny, n_mem = (3, 2, 40) if args.quick else (10, 6, 200)
    tmp = Path(tempfile.mkdtemp(prefix="packshot-bench-batch-"))
    try:
        rows = [bench_white(tmp, n_white)]
        warm, end, growth = bench_memory(tmp, n_mem)  # before torch is loaded: it alone is ~1 GB of RSS
        rows.append(bench_tiny(tmp, n_tiny, args.tiny_resolution, args.tiny_steps))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nPackshot batch benchmark - {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} logical CPUs (shared), torch threads default\n")
    print(f"| {'case':<62} | {'photos':>6} | {'s/photo':>8} | {'photos/min':>10} |")
    print(f"|{'-' * 64}|{'-' * 8}|{'-' * 10}|{'-' * 12}|")
    for name, per_min, per_photo, n in rows:
        print(f"| {name:<62} | {n:>6} | {per_photo:>8.2f} | {per_min:>10.1f} |")
    verdict = "OK" if growth <= 50 else "OVER TARGET"
    print(f"\nRSS over {n_mem} photos (white, 800 x 600): {warm:.0f} MB after 20, {end:.0f} MB at the end, "
          f"growth {growth:.1f} MB (target <= 50 MB: {verdict})")


if __name__ == "__main__":
    main()
