"""Mask and kept-shadow cost per photo on studio shots (tests/studio_scenes.py).

    python -m tests.benchmarks.bench_masks                 # 2000 x 1500, median of 3
    python -m tests.benchmarks.bench_masks --size 6000x4000 --repeat 1

Prints a table: seconds per photo (median of --repeat runs, after one warm-up) for the classic
mask (backdrop model on, and the colour-only path it replaces on studio shots), the backdrop
estimate alone, the kept-shadow matte, and compositing with it; with the mask's IoU against the
scene's true mask where it applies.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    result = fn()  # warm-up (lazy imports, allocations)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="2000x1500", help="W x H of the studio shot")
    parser.add_argument("--shot", default="mug of brick on beige", help="a name from tests/studio_scenes.SHOTS")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))

    from core.generation.composite import composite
    from core.generation.shadow import keep_shadow
    from core.generation.shadow_matte import estimate_shadow_matte
    from core.images import Photo
    from core.masking.backdrop import estimate_backdrop
    from core.masking.maskers import PriorMasker
    from core.masking.prior_classic import ClassicPrior
    from tests import studio_scenes as St

    scene = St.shot(args.shot, h=h, w=w)
    photo = Photo(pixels=scene.image)
    rows: list[tuple[str, float, str]] = []
    new = PriorMasker(ClassicPrior())
    old = PriorMasker(ClassicPrior(use_backdrop=False))
    seconds, mask = timed(lambda: new.compute(photo), args.repeat)
    rows.append(("classic mask, backdrop model", seconds, f"IoU {St.iou(mask.mask, scene.mask):.3f}"))
    seconds, old_mask = timed(lambda: old.compute(photo), args.repeat)
    rows.append(("classic mask, colour only (before)", seconds, f"IoU {St.iou(old_mask.mask, scene.mask):.3f}"))
    seconds, backdrop = timed(lambda: estimate_backdrop(scene.image), args.repeat)
    rows.append(("backdrop estimate", seconds, "studio" if backdrop.is_studio else "not studio"))
    seconds, matte = timed(lambda: estimate_shadow_matte(scene.image, mask.alpha), args.repeat)
    outside = ~mask.mask
    corr = np.corrcoef(matte.matte[outside], scene.matte[outside])[0, 1] if matte.matte is not None else float("nan")
    rows.append(("shadow matte (--shadow keep)", seconds, f"corr {corr:.3f} vs true matte"))
    white = np.full(scene.image.shape, 255, np.uint8)
    shade, _ = keep_shadow(photo, mask)
    seconds, _ = timed(lambda: composite(photo, mask.alpha, white, shade), args.repeat)
    rows.append(("composite with the kept matte", seconds, ""))
    seconds, _ = timed(lambda: composite(photo, mask.alpha, white, None), args.repeat)
    rows.append(("composite, no shadow", seconds, ""))

    print(f"Studio shot '{args.shot}', {w} x {h}, median of {args.repeat} (s per photo)")
    print(f"{'step':38s} {'seconds':>8s}  note")
    for name, sec, note in rows:
        print(f"{name:38s} {sec:8.3f}  {note}")


if __name__ == "__main__":
    main()
