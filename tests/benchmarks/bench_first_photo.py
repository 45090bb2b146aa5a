"""First photo of a fresh install vs a warm one: ``python -m tests.benchmarks.bench_first_photo``.

Each case is a new ``packshot batch`` process on one 2000 x 1500 product photo (``--engine white``,
so the time is the pipeline's own: read, mask, composite with edge matting, write), with its own
empty numba cache (``NUMBA_CACHE_DIR``) and home folder:

- ``fresh``: nothing prepared, the first photo compiles the edge-matting code;
- ``installer``: ``python -m packshot.core.warmup`` ran first (what the installer does), then the photo;
- ``warm``: the same photo again in a new process, everything cached;
- ``whole package``: fresh, but pymatting imported as a package first (every one of its numba
  functions compiled, what the first photo cost before the estimator was loaded on its own).

Prints a table (wall seconds, and the CPU load while it ran); asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BATCH = ("from packshot.core.cli.main import main; import sys; "
         "sys.exit(main(['batch', sys.argv[1], '--out', sys.argv[2], '--engine', 'white', '--no-progress']))")


def _photo(folder: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.desktop.conftest import product_photo

    folder.mkdir(parents=True)
    product_photo(folder / "mug.png", (2000, 1500), (200, 30, 40), 0)


def _env(work: Path) -> dict[str, str]:
    home = work / "home"
    return dict(os.environ, NUMBA_CACHE_DIR=str(work / "numba"), HOME=str(home),
                XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"),
                XDG_CONFIG_HOME=str(home / "config"), HF_HUB_OFFLINE="1")


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def _batch(work: Path, photos: Path, run: str, prelude: str = "") -> float:
    return _timed([sys.executable, "-c", prelude + BATCH, str(photos), str(work / f"out-{run}")], _env(work))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="packshot-first-photo-") as tmp:
        photos = Path(tmp) / "photos"
        _photo(photos)
        fresh = Path(tmp) / "fresh"
        rows.append(("fresh install, first photo", _batch(fresh, photos, "first")))
        rows.append(("warm (same install, new process)", _batch(fresh, photos, "again")))
        prepared = Path(tmp) / "installer"
        rows.append(("installer step: python -m packshot.core.warmup",
                     _timed([sys.executable, "-m", "packshot.core.warmup"], _env(prepared))))
        rows.append(("prepared install, first photo", _batch(prepared, photos, "first")))
        whole = Path(tmp) / "whole"
        rows.append(("fresh, whole pymatting package (before)", _batch(whole, photos, "first", "import pymatting; ")))
    print(f"{'case':<42} {'seconds':>8}   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    for name, seconds in rows:
        print(f"{name:<42} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
