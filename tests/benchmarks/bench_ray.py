"""Photos per minute: the single-process batch vs the same batch on a local Ray runtime.

    python -m tests.benchmarks.bench_ray [--white 200] [--generative 20] [--size 2000x1500]
    python -m tests.benchmarks.bench_ray --scaling-table --seconds-per-image S [--ray-overhead F]

White engine at ``--size`` and the tiny SI2 + ControlNet (random weights, 128 px canvas, 20
steps). Ray's time includes starting the runtime and its actors: that is what a user waits for.

``--scaling-table`` measures nothing: it prints throughput on paper for 1, 8 and 64 generation
actors from a measured per-image time ``S`` (e.g. ``bench_generation --device cuda``'s figure for
one GPU) and a Ray overhead fraction ``F`` of that time. It assumes one generation actor per GPU,
CPU stages sized to keep the GPUs fed (about 4 cores per GPU for decoding, masks and encoding),
object-store bandwidth that is not the bottleneck, and leaves out Ray's fixed start (~15 s a run).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from packshot.core.jobs import BatchJob, JobSettings
from packshot.core.models.store import ModelStore
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import write_photos


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_pair(inp: Path, work: Path, flat: dict, store: ModelStore) -> tuple[float, float]:
    import ray

    from packshot.core.cluster.ray_batch import RayBatch

    local = timed(lambda: BatchJob(inp, work / "local", JobSettings.from_flat(flat), runtime=Runtime(store=store)).run())
    ray.shutdown()
    distributed = timed(lambda: (ray.init(include_dashboard=False, log_to_driver=False),
                                 RayBatch(inp, work / "ray", JobSettings.from_flat(flat), runtime=Runtime(store=store)).run()))
    ray.shutdown()
    return local, distributed


ACTORS = (1, 8, 64)


def scaling_table(seconds_per_image: float, overhead: float = 0.0, unit: str = "GPU") -> str:
    """Images per minute and hour, and hours per 100,000 images, for 1, 8 and 64 actors (a Markdown table)."""
    per_actor = 60.0 / (seconds_per_image * (1.0 + overhead))  # images per minute of one actor
    lines = [f"On paper: {seconds_per_image:g} s per image per actor, Ray overhead {overhead:.0%} of it; one "
             f"generation actor per {unit}, CPU stages keeping them fed, storage not the bottleneck, "
             "Ray's fixed start (~15 s a run) left out.", "",
             f"| {unit}s | images/min | images/hour | hours per 100,000 images |", "|---|---|---|---|"]
    for n in ACTORS:
        rate = per_actor * n
        lines.append(f"| {n} | {rate:,.2f} | {rate * 60:,.0f} | {100_000 / (rate * 60):,.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--white", type=int, default=200)
    parser.add_argument("--generative", type=int, default=20)
    parser.add_argument("--size", default="2000x1500")
    parser.add_argument("--scaling-table", action="store_true",
                        help="print throughput on paper for 1, 8 and 64 actors from --seconds-per-image; no runs")
    parser.add_argument("--seconds-per-image", type=float, default=0.0,
                        help="measured time of one image on one generation actor (one GPU)")
    parser.add_argument("--ray-overhead", type=float, default=0.0,
                        help="Ray's cost per image as a fraction of --seconds-per-image (0.05: 5 %%)")
    parser.add_argument("--unit", default="GPU", help="what one actor runs on, for the table's header")
    args = parser.parse_args(argv)
    if args.scaling_table:
        if args.seconds_per_image <= 0:
            parser.error("--scaling-table needs --seconds-per-image S (a measured figure, > 0)")
        print(scaling_table(args.seconds_per_image, args.ray_overhead, args.unit))
        return 0
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
