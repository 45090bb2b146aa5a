"""``packshot eval PHOTOS_DIR --out DIR``: compare engines by object expansion (and CLIP score)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from packshot.core.errors import PackshotError
from packshot.core.jobs.settings import JobSettings
from packshot.core.options import add_arguments

# Flat names of the JobSettings fields that eval also takes (same flag, help, default and choices).
SHARED_WITH_BATCH = {"template", "prompt", "negative", "steps", "guidance", "resolution", "masks_dir", "masker",
                     "sam_variant", "models_dir", "device"}


def parse_seeds(text: str) -> tuple[int, ...]:
    """"0,1,2" or "0-4" (inclusive) or a mix: "0-2,10"."""
    seeds: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else part[1:].split("-", 1)
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i:
                    raise ValueError
                seeds.extend(range(lo_i, hi_i + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must look like 0,1,2 or 0-4, got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds must be non-negative integers, got {text!r}")
    return tuple(dict.fromkeys(seeds))


def parse_engines(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise argparse.ArgumentTypeError("give at least one engine, e.g. si2,si2-controlnet")
    return names


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="compare engines by object expansion over a folder of photos",
        description="Render every photo with each engine and the same seeds, re-segment the product in "
                    "each result and measure how far it grew beyond its input mask (the paper's object "
                    "expansion). Writes results.csv, summary.md and expansion.png to --out.")
    p.add_argument("photos_dir", type=Path, metavar="PHOTOS_DIR")
    p.add_argument("--out", type=Path, required=True, help="folder for results.csv, summary.md, expansion.png")
    p.add_argument("--engines", type=parse_engines, default=("si2", "si2-controlnet"),
                   help="comma-separated engine names (default: si2,si2-controlnet)")
    p.add_argument("--seeds", type=parse_seeds, default=(0,), help="e.g. 0,1,2 or 0-4 (default: 0)")
    # The options eval shares with `packshot batch` are generated from the same settings fields.
    add_arguments(p, JobSettings, only=SHARED_WITH_BATCH)
    p.add_argument("--reseg", choices=("auto", "sam", "classic"), default="auto",
                   help="how the product is found in each result (default: SAM if present, else classic)")
    p.add_argument("--threshold", type=float, default=0.10,
                   help="QC threshold on expansion as a fraction of the object, for the flagged column")
    p.add_argument("--clip-model", type=Path, help="a transformers CLIP folder for the CLIP score "
                                                   "(default: <models dir>/clip or the Hugging Face cache)")
    p.add_argument("--no-images", action="store_true", help="do not save the composited results and masks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from packshot.core.options import check_namespace
    from packshot.core.progress import Progress
    from packshot.core.quality.evaluate import EvalConfig, run_eval
    from packshot.core.runtime import Runtime

    check_namespace(JobSettings, args)  # the batch's bounds for the options eval shares with it
    if args.resolution < 64 or args.resolution % 8:
        raise PackshotError(f"--resolution must be a multiple of 8, at least 64 (got {args.resolution}).")
    config = EvalConfig(engines=args.engines, seeds=args.seeds, prompt=args.prompt, template=args.template,
                        negative_prompt=args.negative, steps=args.steps, guidance=args.guidance,
                        resolution=args.resolution, masks_dir=Path(args.masks_dir) if args.masks_dir else None,
                        masker=args.masker, resegmenter=args.reseg,
                        sam_variant=args.sam_variant, device=args.device,
                        threshold=args.threshold, save_images=not args.no_images, clip_model=args.clip_model)
    with tqdm(total=0, unit="img", desc="eval", dynamic_ncols=True) as bar:
        def show(p: Progress) -> None:
            if p.stage != "eval":
                return
            bar.total = p.total
            bar.set_postfix_str(p.message[-60:], refresh=False)
            bar.update(p.done - bar.n)

        report = run_eval(args.photos_dir, args.out, config, Runtime(args.models_dir), progress=show)
    print(f"{'engine':<18} {'n':>4} {'mean E %img':>12} {'median E %img':>14} {'mean E %obj':>12} {'CLIP':>6}")
    for s in report.summaries:
        def f(x: float) -> str:
            return "-" if math.isnan(x) else f"{100 * x:.3f}"

        clip = f"{s.mean_clip:.2f}" if s.mean_clip is not None else "n/a"
        print(f"{s.engine:<18} {s.n:>4} {f(s.mean_expansion):>12} {f(s.median_expansion):>14} "
              f"{f(s.mean_expansion_object):>12} {clip:>6}")
    if report.clip.folder is None:
        print(f"CLIP score: {report.clip.describe()}")
    for note in report.notes:
        print(f"note: {note}")
    print(f"Wrote {report.csv_path}, {report.md_path}, {report.png_path}")
    failed = sum(1 for r in report.rows if r.error)
    if failed:
        print(f"{failed} result(s) failed; see {report.md_path.name}.")
    return 1 if failed else 0
