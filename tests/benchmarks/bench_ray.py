"""Photos per minute: the single-process batch vs the same batch on a local Ray runtime.

    python -m tests.benchmarks.bench_ray [--white 200] [--generative 20] [--size 2000x1500]

White engine at ``--size`` and the tiny SI2 + ControlNet (random weights, 128 px canvas, 20
steps). Ray's time includes starting the runtime and its actors: that is what a user waits for.
The scaling rows are on paper: per-GPU throughput (from ``--gpu-seconds-per-image``, e.g. the
generation benchmark's GPU figure) times GPU actors, less the measured Ray overhead.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from core.jobs import BatchJob, JobSettings
from core.models.store import ModelStore
from core.runtime import Runtime
from tests.core.batch_helpers import write_photos


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_pair(inp: Path, work: Path, flat: dict, store: ModelStore) -> tuple[float, float]:
    import ray

    from core.cluster.ray_batch import RayBatch

    local = timed(lambda: BatchJob(inp, work / "local", JobSettings.from_flat(flat), runtime=Runtime(store=store)).run())
    ray.shutdown()
    distributed = timed(lambda: (ray.init(include_dashboard=False, log_to_driver=False),
                                 RayBatch(inp, work / "ray", JobSettings.from_flat(flat), runtime=Runtime(store=store)).run()))
    ray.shutdown()
    return local, distributed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--white", type=int, default=200)
    parser.add_argument("--generative", type=int, default=20)
    parser.add_argument("--size", default="2000x1500")
    parser.add_argument("--gpu-seconds-per-image", type=float, default=0.0,
                        help="measured per-image time of one GPU (0: leave the paper rows out)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    rows = []
    try:
        if args.white:
            write_photos(work / "white-in", args.white, size=(width, height))
            store = ModelStore(work / "no-models", offline=True, use_hf_cache=False)
            local, dist = run_pair(work / "white-in", work / "white", dict(engine="white"), store)
            rows.append((f"white, {args.white} photos {args.size}", args.white, local, dist))
        if args.generative:
            from tests.factories.diffusion import build_models_dir

            models = build_models_dir(work / "models")
            write_photos(work / "gen-in", args.generative, size=(160, 120))
            flat = dict(engine="si2-controlnet", template="marble", resolution=128, steps=20, device="cpu",
                        models_dir=str(models))
            store = ModelStore(models, offline=True, use_hf_cache=False)
            local, dist = run_pair(work / "gen-in", work / "gen", flat, store)
            rows.append((f"tiny SI2+CN, {args.generative} photos", args.generative, local, dist))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nLocal batch vs local Ray runtime (2 CPU cores; Ray time includes its start)")
    print(f"{'job':<34}{'local /min':>11}{'Ray /min':>10}{'Ray overhead':>14}")
    for name, n, local, dist in rows:
        print(f"{name:<34}{n / local * 60:>11.1f}{n / dist * 60:>10.1f}{(dist / local - 1) * 100:>13.0f}%")
    if args.gpu_seconds_per_image:
        per_gpu = 60 / args.gpu_seconds_per_image
        print(f"\nOn paper, {args.gpu_seconds_per_image:.2f} s per image per GPU actor:")
        for gpus in (1, 8, 64):
            print(f"  {gpus:>3} GPUs: {per_gpu * gpus:,.0f} images/min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
