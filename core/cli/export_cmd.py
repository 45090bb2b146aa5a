"""``packshot export SOURCE... --out DIR``: finished outputs at a size preset, format and bit depth.

SOURCE is an output file, or a batch output folder (its photos' keepers). See ``packshot.core.jobs.export``:
a different preset renders the result again from its recipe (framed before rendering, like the
batch), so every exported file replays bit-identically with ``packshot replay``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130


def register(subparsers: Any) -> None:
    from packshot.core.generation.presets import PRESETS
    from packshot.core.jobs.export import EXPORT_FORMATS, ExportSettings

    defaults = ExportSettings()
    p = subparsers.add_parser(
        "export", help="write finished outputs at a size preset and format, recipe included",
        description="Exports output files, or the keepers of batch output folders, into DIR. A preset other "
                    "than the one an output was made with renders it again from its recipe (the product is "
                    "framed before the background is made, exactly like the batch); every exported file "
                    "carries its recipe, EXIF and colour profile and replays with `packshot replay`.")
    p.add_argument("sources", metavar="SOURCE", nargs="+", type=Path,
                   help="an output image, or a batch output folder (exports each photo's keeper)")
    p.add_argument("--out", dest="export_dir", metavar="DIR", type=Path, required=True, help="export folder")
    p.add_argument("--size", "--preset", dest="preset", default=defaults.preset, choices=list(PRESETS),
                   help=f"canvas size and framing (default: {defaults.preset})")
    p.add_argument("--format", dest="export_format", default=defaults.format, choices=EXPORT_FORMATS,
                   help="auto keeps each output's format (PNG for JPEG/WebP at 16-bit)")
    p.add_argument("--quality", type=int, default=defaults.quality, help="JPEG/WebP quality, 1-100")
    p.add_argument("--bit-depth", type=int, default=defaults.bit_depth, choices=(8, 16),
                   help="bits per channel (16: png or tiff)")
    p.add_argument("--overwrite", action="store_true", help="replace files already in DIR")
    p.add_argument("--models-dir", help="folder holding model folders (for results rendered again)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--no-progress", action="store_true", help="one line per file instead of a progress bar")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from packshot.core.jobs.export import ExportJob, ExportSettings
    from packshot.core.progress import Progress
    from packshot.core.runtime import Runtime

    settings = ExportSettings(preset=args.preset, format=args.export_format, quality=args.quality,
                              bit_depth=args.bit_depth)
    job = ExportJob(args.sources, args.export_dir, settings, runtime=Runtime(args.models_dir), device=args.device,
                    overwrite=args.overwrite)
    quiet = args.no_progress or not sys.stdout.isatty()

    def progress(p: Progress) -> None:
        if p.stage == "export" and p.total and p.done < p.total:
            line = f"[{p.done + 1}/{p.total}] {p.message}"
            if quiet:
                print(line, flush=True)
            else:
                print(f"\r{line:<70}", end="", flush=True)

    try:
        summary = job.run(progress)
    except KeyboardInterrupt:
        summary = None
    if not quiet:
        print()
    if summary is None or summary.cancelled:
        print("Export interrupted; the files written so far are complete.", file=sys.stderr)
        return EXIT_CANCELLED
    rendered = sum(e.rendered for e in summary.exported)
    kept = len(summary.kept)
    print(f"Exported {len(summary.exported)} file(s) to {args.export_dir} ({settings.preset}, {settings.bit_depth}-bit"
          + (f"; {rendered} rendered again for the new preset" if rendered else "")
          + (f"; {kept} already there from an earlier export, kept" if kept else "") + ")")
    if summary.failed:
        print("Not exported:")
        for _, reason in summary.failed:
            print(f"  - {reason}")
    return EXIT_OK if summary.ok else EXIT_FAILED
