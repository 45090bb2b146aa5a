"""Every GPU measurement of this project in one run: ``python -m tests.benchmarks.gpu_all [--out DIR]``.

On a CUDA machine with nothing but this checkout and its virtual environment (no internet: every model is
built here with random weights in its published shapes; the time does not depend on the weights' values):

1. ``bench_generation --device cuda --engine si2-controlnet``: the paper's engine, 512 x 512, 20 steps,
   guidance 7.5, fp16 and bf16, 1 and 4 variants per call, eager and torch.compile + channels_last;
2. ``bench_generation --device cuda --engine flux2-klein``: FLUX.2 [klein] 4B, 1024 x 1024, 4 steps, the
   same rows (bf16 first: the engine's choice on such a card);
3. ``bench_upscale --device cuda``: the learned background upscale.

Each part runs in its own process under a time limit (and each generation row under its own), so the
whole fits in about 8 minutes on an H100; every row is appended to ``DIR/generation.jsonl`` the moment it
ends and each part's output to ``DIR/<part>.log``, so a run cut short keeps what it measured. The end
prints one table: seconds per image and peak GPU memory per row. ``DIR``: ``$OUT`` when set (the device
tool's folder that comes back), else ``./gpu-results``. Without CUDA it stops at once with one line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

# (name, module and arguments, seconds it may take); about 8 minutes in all.
PARTS = [
    ("si2-controlnet", ["tests.benchmarks.bench_generation", "--device", "cuda", "--engine", "si2-controlnet",
                        "--row-timeout", "100"], 200),
    ("flux2-klein", ["tests.benchmarks.bench_generation", "--device", "cuda", "--engine", "flux2-klein",
                     "--row-timeout", "100"], 200),
    ("upscale", ["tests.benchmarks.bench_upscale", "--device", "cuda"], 80),
]


def cuda_problem() -> str | None:
    """Why this machine cannot run the GPU benchmarks (None: it can)."""
    try:
        import torch
    except ImportError:
        return "torch is not installed in this environment"
    if not torch.cuda.is_available():
        return (f"no CUDA GPU here (torch {torch.__version__}, torch.cuda.is_available() is False); "
                "run it on a machine with an NVIDIA GPU")
    return None


def run_part(name: str, argv: list[str], seconds: float, out: Path, extra: list[str]) -> str:
    """Run one part as a child process, its output shown and kept in ``out/<name>.log``; its status."""
    log = out / f"{name}.log"
    command = [sys.executable, "-m", *argv, *extra]
    print(f"\n## {name}: {' '.join(command[1:])} (at most {seconds:.0f} s)", flush=True)
    with open(log, "w", encoding="utf-8") as handle:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        stopped = threading.Event()

        def stop() -> None:  # the part's time is up: end it and whatever it started
            stopped.set()
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it ended on its own meanwhile

        watchdog = threading.Timer(seconds, stop)
        watchdog.start()
        try:
            assert child.stdout is not None
            for line in child.stdout:  # streamed: partial results are on screen and on disk as they come
                handle.write(line)
                handle.flush()
                if line.startswith(("|", "#")):
                    print(line, end="", flush=True)
            child.wait()
        finally:
            watchdog.cancel()
    if stopped.is_set():
        return f"stopped after {seconds:.0f} s (rows measured before are kept)"
    return "ok" if child.returncode == 0 else f"exit status {child.returncode} (see {log})"


def table(out: Path, statuses: dict[str, str]) -> str:
    """The summary: every generation row, then the upscale part's own table, then each part's status."""
    from tests.benchmarks.bench_generation import format_row

    lines = ["| engine | px | steps | dtype | variants | mode | s/image | peak GPU GB | status |",
             "|---|---|---|---|---|---|---|---|---|"]
    rows = out / "generation.jsonl"
    if rows.is_file():
        lines += [format_row(json.loads(line)) for line in rows.read_text(encoding="utf-8").splitlines() if line]
    upscale = out / "upscale.log"
    if upscale.is_file():
        lines += ["", "Learned upscale (bench_upscale --device cuda):"]
        lines += [line for line in upscale.read_text(encoding="utf-8").splitlines() if line.startswith(("|", "#"))]
    lines += ["", *(f"{name}: {status}" for name, status in statuses.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "gpu-results"),
                        help="where the rows and logs go (default: $OUT, else ./gpu-results)")
    parser.add_argument("--only", help="comma-separated parts to run (si2-controlnet, flux2-klein, upscale)")
    args = parser.parse_args(argv)
    problem = cuda_problem()
    if problem:
        print(f"gpu_all: {problem}.", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    rows = (args.out / "generation.jsonl").resolve()
    wanted = set(args.only.split(",")) if args.only else None
    statuses = {}
    for name, part, seconds in PARTS:
        if wanted and name not in wanted:
            continue
        extra = ["--results", str(rows)] if "bench_generation" in part[0] else []
        statuses[name] = run_part(name, part, seconds, args.out, extra)
    summary = table(args.out, statuses)
    (args.out / "summary.md").write_text(summary + "\n", encoding="utf-8")
    print("\n" + summary, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
