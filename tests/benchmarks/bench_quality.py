"""Quality-control cost: what scoring one generated result adds to a batch.

    python -m tests.benchmarks.bench_quality               # metric, classic and tiny-SAM re-segmentation
    python -m tests.benchmarks.bench_quality --full-sam    # also SAM ViT-B, full size, random weights

Prints seconds per result (median of --repeat runs) for: the pure metric at several sizes, the
classic re-segmentation and SAM re-segmentation (one image embedding + one prompt per result).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from packshot.core.quality.metric import expansion


def scene(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """A product (an ellipse) on a lightly textured backdrop, and its mask."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:h, :w]
    mask = ((xx - w / 2) / (w * 0.2)) ** 2 + ((yy - h / 2) / (h * 0.3)) ** 2 <= 1
    img = (rng.normal(225, 6, (h, w, 3))).clip(0, 255).astype(np.uint8)
    img[mask] = (40, 70, 160)
    return img, mask


def timed(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up (lazy imports, allocations)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full-sam", action="store_true", help="also time SAM ViT-B (random weights, ~360 MB)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from packshot.core.models.store import ModelStore
    from packshot.core.quality.resegment import build_resegmenter
    from packshot.core.runtime import Runtime
    from tests.factories.sam import write_full_size_sam, write_tiny_sam

    rows: list[tuple[str, str, float]] = []
    for w, h in ((1024, 1024), (2000, 2000), (6000, 4000)):
        img, mask = scene(w, h)
        grown = mask.copy()
        grown[h // 2:, w // 2 - 10:w // 2 + 10] = True
        rows.append(("metric (expansion, IoU, signed)", f"{w} x {h}",
                     timed(partial(expansion, mask, grown), args.repeat)))
    with tempfile.TemporaryDirectory() as tmp:
        empty = ModelStore(Path(tmp) / "none", offline=True, download_dir=Path(tmp) / "dl", use_hf_cache=False)
        classic = build_resegmenter("classic", Runtime(store=empty))
        for w, h in ((1024, 1024), (2000, 2000)):
            img, mask = scene(w, h)
            rows.append(("classic re-segmentation", f"{w} x {h}",
                         timed(partial(classic.segment, img, mask), args.repeat)))
        kinds = [("tiny", write_tiny_sam)] + ([("vit_b", write_full_size_sam)] if args.full_sam else [])
        for label, writer in kinds:
            models = Path(tmp) / f"models-{label}"
            writer(models) if label == "tiny" else writer(models, "vit_b")
            store = ModelStore(models, offline=True, download_dir=Path(tmp) / "dl", use_hf_cache=False)
            sam = build_resegmenter("sam", Runtime(store=store), device=args.device)
            for w, h in ((1024, 1024), (2000, 2000)):
                img, mask = scene(w, h)
                rows.append((f"SAM re-segmentation ({label}, {args.device})", f"{w} x {h}",
                             timed(partial(sam.segment, img, mask), args.repeat)))
    print(f"{'what':<40} {'image':>12} {'s / result':>11}")
    for what, size, sec in rows:
        print(f"{what:<40} {size:>12} {sec:>11.4f}")


if __name__ == "__main__":
    main()
