"""Work a fresh install would otherwise do during its first photo, done ahead of time.

The installer runs ``python -m packshot.core.warmup`` once the environment is in place, so the first photo
is as fast as every later one. Each step says what it prepares; a step already done is skipped
(cheaply, without importing what it would prepare).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence


@dataclass(frozen=True)
class WarmupStep:
    name: str  # what a person reads: "edge matting"
    needed: Callable[[], bool]
    run: Callable[[], None]


def _matting_needed() -> bool:
    from packshot.core.generation.matting import needs_preparing

    return needs_preparing()


def _matting_run() -> None:
    from packshot.core.generation.matting import warm_up

    warm_up()


STEPS = (WarmupStep("edge matting (compiled code for soft product edges)", _matting_needed, _matting_run),)


def prepare(say: Callable[[str], None] = print, force: bool = False,
            steps: Sequence[WarmupStep] = STEPS) -> list[str]:
    """Run every step that is still needed (all with ``force``); returns the names of those run."""
    done = []
    for step in steps:
        if not force and not step.needed():
            say(f"Already prepared: {step.name}.")
            continue
        say(f"Preparing {step.name}, once (a few seconds, up to a minute on a slow computer)...")
        started = time.perf_counter()
        step.run()
        say(f"Prepared {step.name} in {time.perf_counter() - started:.1f} s.")
        done.append(step.name)
    return done


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m packshot.core.warmup", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="run every step, even those already done")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the steps' own first-use warnings would repeat our lines
    try:
        prepare(force=args.force)
    except Exception as exc:  # noqa: BLE001 - the app still works; its first photo is only slower
        print(f"Could not prepare ahead ({type(exc).__name__}: {exc}); the first photo will do it.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
