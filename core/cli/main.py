"""``packshot``: subcommands registered by feature modules (and, through entry points, by desktop)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from importlib.metadata import entry_points
from typing import Optional, Sequence

from core import __version__
from core.errors import PackshotError

# Each module exposes ``register(subparsers)``; the GUI's ``gui`` command arrives through the
# ``packshot.commands`` entry point group so that core never imports desktop.
COMMAND_MODULES = ("core.cli.batch_cmd", "core.cli.masks_cmd", "core.cli.models_cmd", "core.cli.eval_cmd",
                   "core.cli.replay_cmd", "core.cli.export_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="packshot",
        description="New, text-prompted backgrounds behind product photos, by the folder, without changing the product.",
    )
    parser.add_argument("--version", action="version", version=f"packshot {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for ep in sorted(entry_points(group="packshot.commands"), key=lambda e: e.name):
        try:
            ep.load()(subparsers)
        except ImportError as exc:  # e.g. Qt missing on a headless server: the rest still works
            logging.getLogger(__name__).debug("command %s unavailable: %s", ep.name, exc)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    # Our own bars show downloads and jobs; the libraries' per-file "loading weights" bars are noise.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PackshotError as exc:
        print(f"packshot: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("packshot: interrupted; finished work is kept and the next run resumes.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
