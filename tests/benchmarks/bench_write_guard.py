"""What the write guard costs a batch: ``python -m tests.benchmarks.bench_write_guard [--count N] [--rounds R]``.

The same ``BatchJob`` (white engine, classic mask, small photos so that per-file costs show most) with
``packshot.core.write_guard`` on, and with its checks replaced by no-ops; a fresh run (every output written)
and a resumed run (every photo already done: the guard reads each existing output's recipe once in
``prepare``). Rounds alternate and the best of each is kept. Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from packshot.core import write_guard
from packshot.core.jobs import BatchJob, JobSettings
from tests.core.batch_helpers import no_models_runtime, write_photos


@contextmanager
def _guard_off() -> Iterator[None]:
    cls = write_guard.WriteGuard
    saved = cls.check, cls.check_folder
    cls.check = lambda self, target, **_kw: target  # type: ignore[method-assign]
    cls.check_folder = lambda self, folder: folder  # type: ignore[method-assign]
    try:
        yield
    finally:
        cls.check, cls.check_folder = saved


def _timed(inp: Path, out: Path, tmp: Path) -> float:
    start = time.perf_counter()
    summary = BatchJob(inp, out, JobSettings(engine="white"), runtime=no_models_runtime(tmp)).run()
    seconds = time.perf_counter() - start
    if summary.failed:
        raise SystemExit(f"benchmark batch failed: {summary.failed}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-guard-"))
    try:
        inp = tmp / "in"
        write_photos(inp, args.count, size=(320, 240))
        _timed(inp, tmp / "warm", tmp)  # imports and OpenCV start-up are no per-photo cost
        best: dict[tuple[str, str], float] = {}
        for r in range(args.rounds):
            for mode in ("on", "off"):
                out = tmp / f"out-{mode}-{r}"
                if mode == "off":
                    with _guard_off():
                        fresh, resumed = _timed(inp, out, tmp), _timed(inp, out, tmp)
                else:
                    fresh, resumed = _timed(inp, out, tmp), _timed(inp, out, tmp)
                for run, seconds in (("fresh", fresh), ("resumed", resumed)):
                    best[(mode, run)] = min(best.get((mode, run), float("inf")), seconds)
        print(f"{args.count} photos 320 x 240, white engine, best of {args.rounds}")
        print(f"{'run':<10}{'guard on':>14}{'guard off':>14}{'change':>10}")
        for run in ("fresh", "resumed"):
            on, off = best[("on", run)], best[("off", run)]
            rate_on, rate_off = args.count / on * 60, args.count / off * 60
            print(f"{run:<10}{rate_on:>10.0f}/min{rate_off:>10.0f}/min{(rate_on / rate_off - 1) * 100:>+9.1f}%")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
