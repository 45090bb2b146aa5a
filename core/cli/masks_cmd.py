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

from core.errors import PackshotError
from core.jobs.settings import JobSettings
from core.naming import display_name
from core.options import add_arguments

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("masks", help="compute product masks for a folder (PNG per photo, for review)")
    parser.add_argument("input", type=Path, metavar="INPUT_DIR")
    parser.add_argument("--out", type=Path, required=True, metavar="MASKS_DIR", help="where <photo stem>.png go")
    # Shared with `packshot batch`: generated from the same settings fields (flag, help, default, choices).
    add_arguments(parser, JobSettings, only={"masker", "prior", "sam_variant", "doubtful_below", "models_dir",
                                             "device"})
    parser.add_argument("--redo", action="store_true", help="recompute masks that already exist")
    parser.add_argument("--white", choices=("product", "background"), default="product",
                        help="what white means in the PNG (IOPaint itself uses background)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.images import list_photos, load_photo
    from core.masking import build_masker, mask_path_for, save_mask_png
    from core.options import check_namespace
    from core.quality.mask_gate import mask_doubt
    from core.runtime import Runtime
    from core.write_guard import WriteGuard

    check_namespace(JobSettings, args)  # the batch's bounds for the options masks shares with it
    photos = list_photos(args.input)
    if not photos:
        print(f"No photos in {args.input}.")
        return 0
    guard = WriteGuard(args.out, [args.input, *photos])  # masks never land on (or among) the photos
    guard.check_folder(args.out)
    masker = build_masker(args.masker, Runtime(args.models_dir), args.sam_variant, args.device,
                          prior=args.prior)
    seeded = f" seeded by the {masker.prior.name} prior" if masker.name != masker.prior.name else ""
    print(f"Masking {len(photos)} photos with {masker.name}{seeded} into {args.out}")
    rows, failed, skipped = [], [], 0
    for i, path in enumerate(photos, 1):
        target = mask_path_for(path, args.out)
        if target.exists() and not args.redo:
            skipped += 1
            continue
        try:
            guard.check(target, made_by=MASK_MAKER, key_of=mask_maker)  # --redo: only masks Packshot wrote
            result = masker.compute(load_photo(path))
            save_mask_png(target, result.alpha, white=args.white)
        except PackshotError as exc:
            failed.append((path.name, str(exc)))
            print(f"[{i}/{len(photos)}] {path.name}: FAILED: {exc}")
            continue
        doubt = mask_doubt(result, args.doubtful_below) or ""
        rows.append((display_name(path.name), display_name(target.name), f"{result.score:.3f}", result.source,
                     result.details.get("fallback", "")[:200], doubt))
        said = f"; DOUBTFUL: {doubt}" if doubt else ""
        print(f"[{i}/{len(photos)}] {path.name}: score {result.score:.2f} ({result.source}){said}")
    if rows:
        _write_review(guard.check(args.out / "review.csv", made_by=REVIEW_MAKER, key_of=review_maker), rows)
    fallback = next((r[4] for r in rows if r[4]), "")
    if fallback:
        print(f"Note: {fallback}")
    if prior_note := getattr(masker, "prior_fallback", None):
        print(f"Note: {prior_note}")
    doubtful = sum(1 for r in rows if r[5])
    print(f"Done: {len(rows)} masked, {skipped} already there, {len(failed)} failed."
          + (f" {doubtful} doubtful: review them first (listed first in review.csv)." if doubtful else ""))
    for name, reason in failed:
        print(f"  {name}: {reason}")
    return 1 if failed else 0


REVIEW_COLUMNS = ("photo", "mask", "score", "source", "note", "doubt")
MASK_MAKER, REVIEW_MAKER = "packshot masks", "packshot masks review"


def mask_maker(path: Path) -> Optional[str]:
    """``MASK_MAKER`` for a mask PNG Packshot wrote (it carries the polarity chunk), else None."""
    from PIL import Image

    from core.masking.maskio import POLARITY_KEY

    try:
        with Image.open(path) as im:
            return MASK_MAKER if POLARITY_KEY in im.info else None
    except (OSError, ValueError, SyntaxError):
        return None


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
    from core.images import write_atomic

    write_atomic(path, buffer.getvalue().encode("utf-8"))
