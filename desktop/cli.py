"""``packshot gui [FOLDER]``: the desktop app as a subcommand of the ``packshot`` CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

from packshot.core.app_api import DEVICE_CHOICES


def register(subparsers) -> None:
    """Add the ``gui`` subcommand (wired through the ``packshot.commands`` entry point)."""
    parser = subparsers.add_parser("gui", help="open the desktop app (Packshot Studio)",
                                   description="Open Packshot Studio, optionally on a folder of photos "
                                               "or a Packshot output folder.")
    parser.add_argument("folder", nargs="?", type=Path, help="folder of photos or a Packshot output folder")
    parser.add_argument("--models-dir", type=Path, help="folder holding one sub-folder per model id")
    parser.add_argument("--device", choices=DEVICE_CHOICES, help="compute device for this session")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from packshot.desktop.app import main

    argv = [str(args.folder)] if args.folder else []
    if getattr(args, "models_dir", None):
        argv += ["--models-dir", str(args.models_dir)]
    if getattr(args, "device", None):
        argv += ["--device", args.device]
    return main(argv)
