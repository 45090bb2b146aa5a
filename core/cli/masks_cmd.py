"""``packshot masks INPUT_DIR --out MASKS_DIR``: automatic masks for review, one PNG per photo.

Masks are named like their photos (IOPaint's convention) so ``packshot batch --masks MASKS_DIR``
and IOPaint's batch mode both pick them up; ``review.csv`` lists them doubtful-first.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
from pathlib import Path
from typing import Optional

from packshot.core.jobs.mask_job import MASK_MAKER, mask_maker  # noqa: F401 - re-exported: what --redo may replace
from packshot.core.jobs.settings import JobSettings
from packshot.core.naming import display_name
from packshot.core.options import add_arguments

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("masks", help="compute product masks for a folder (PNG per photo, for review)")
    parser.add_argument("input", type=Path, metavar="INPUT_DIR")
    parser.add_argument("--out", type=Path, required=True, metavar="MASKS_DIR", help="where <photo stem>.png go")
    # Shared with `packshot batch`: generated from the same settings fields (flag, help, default, choices).
    add_arguments(parser, JobSettings, only=set(MASK_OPTIONS))
    parser.add_argument("--redo", action="store_true", help="recompute masks that already exist")
    parser.add_argument("--white", choices=("product", "background"), default="product",
                        help="what white means in the PNG (IOPaint itself uses background)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from packshot.core.images import list_photos
    from packshot.core.jobs.context import JobContext
    from packshot.core.jobs.mask_job import MaskJob, MaskOutcome
    from packshot.core.options import check_namespace
    from packshot.core.runtime import Runtime
    from packshot.core.write_guard import WriteGuard

    check_namespace(JobSettings, args)  # the batch's bounds for the options masks shares with it
    photos = list_photos(args.input)
    if not photos:
        print(f"No photos in {args.input}.")
        return 0
    # The batch's own mask settings and masker (packshot.core.jobs.MaskJob, the one masking loop); no background.
    settings = JobSettings.from_flat({"engine": "white", **{k: getattr(args, k) for k in MASK_OPTIONS}})
    context = JobContext(settings, runtime=Runtime(args.models_dir))
    guard = WriteGuard(args.out, [args.input, *photos])  # masks never land on (or among) the photos
    job = MaskJob(photos, context, export_to=args.out, white=args.white, redo=args.redo, guard=guard,
                  keep_empty=True)  # an empty mask is written for review, as any other
    masker = context.masker
    seeded = f" seeded by the {masker.prior.name} prior" if masker.name != masker.prior.name else ""
    print(f"Masking {len(photos)} photos with {masker.name}{seeded} into {args.out}")
    rows: list[tuple[str, ...]] = []

    def said(outcome: MaskOutcome) -> None:
        i = job.photos.index(outcome.path) + 1
        if outcome.status == "failed":
            print(f"[{i}/{len(photos)}] {outcome.path.name}: FAILED: {outcome.error or outcome.message}")
        if outcome.status != "computed":
            return
        mask = outcome.mask
        rows.append((display_name(outcome.path.name), display_name(outcome.mask_path.name), f"{mask.score:.3f}",
                     mask.source, mask.details.get("fallback", "")[:200], outcome.doubt or ""))
        doubt = f"; DOUBTFUL: {outcome.doubt}" if outcome.doubt else ""
        print(f"[{i}/{len(photos)}] {outcome.path.name}: score {mask.score:.2f} ({mask.source}){doubt}")

    summary = job.run(on_photo=said)
    if rows:
        _write_review(guard.check(args.out / "review.csv", made_by=REVIEW_MAKER, key_of=review_maker), rows)
    fallback = next((r[4] for r in rows if r[4]), "")
    if fallback:
        print(f"Note: {fallback}")
    if prior_note := getattr(masker, "prior_fallback", None):
        print(f"Note: {prior_note}")
    doubtful = len(summary.doubtful)
    print(f"Done: {len(summary.computed)} masked, {len(summary.kept)} already there, {len(summary.failed)} failed."
          + (f" {doubtful} doubtful: review them first (listed first in review.csv)." if doubtful else ""))
    for _name, reason in summary.failed:
        print(f"  {reason}")
    return 1 if summary.failed else 0


MASK_OPTIONS = ("masker", "prior", "sam_variant", "doubtful_below", "models_dir", "device")
REVIEW_COLUMNS = ("photo", "mask", "score", "source", "note", "doubt")
REVIEW_MAKER = "packshot masks review"


def review_maker(path: Path) -> Optional[str]:
    """``REVIEW_MAKER`` for a review.csv this command wrote (its header row), else None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return REVIEW_MAKER if handle.readline().strip().split(",")[:4] == list(REVIEW_COLUMNS[:4]) else None
    except OSError:
        return None


def _write_review(path: Path, rows: list[tuple[str, ...]]) -> None:
    """Merge with an earlier review.csv and sort doubtful first, then by score; written atomically.
    ``doubt`` says why the mask gate (the same as the batch's) wants a look; empty when it passed."""
    merged: dict[str, tuple[str, ...]] = {}
    if path.exists():
        with open(path, newline="", encoding="utf-8") as handle:
            for old in csv.reader(handle):
                if old and old[0] != "photo":
                    merged[old[0]] = tuple(old) + ("",) * (len(REVIEW_COLUMNS) - len(old))  # older file: no doubt
    merged.update({r[0]: r for r in rows})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REVIEW_COLUMNS)
    writer.writerows(sorted(merged.values(), key=lambda r: (not r[5], float(r[2]))))
    from packshot.core.images import write_atomic

    write_atomic(path, buffer.getvalue().encode("utf-8"))
