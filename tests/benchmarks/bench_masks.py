"""Mask and kept-shadow cost per photo on studio shots (tests/studio_scenes.py), and mask quality
on the randomised studio corpus (tests/studio_corpus.py).

    python -m tests.benchmarks.bench_masks                 # 2000 x 1500, median of 3
    python -m tests.benchmarks.bench_masks --size 6000x4000 --repeat 1
    python -m tests.benchmarks.bench_masks --corpus 300    # 800 x 600 unless --size (or --size random)
    python -m tests.benchmarks.bench_masks --corpus 300 --perfect-prior
    python -m tests.benchmarks.bench_masks --corpus 300 --workers 2 --against tests/benchmarks/records/classic-seed0-800x600.json
    python -m tests.benchmarks.bench_masks --corpus 300 --size 2000x1500 --workers 2 --against tests/benchmarks/records/classic-seed0-2000x1500.json

``--corpus N``: N corpus scenes (classes cycled evenly, seeded by --seed) through the masker a batch
uses (``build_masker(--masker)``, default settings) and the batch's mask gate (``mask_doubt`` at the
default threshold); a table by class and overall of the clean rate (IoU >= 0.95 and at most 1 % of
the product lost, see tests/core/masking/corpus_scoring.py), the gate's recall (of the masks not
clean, the share flagged) and false flags (of the clean masks, the share flagged), median IoU,
median and worst product lost, and seconds per photo. ``--perfect-prior`` hands the true mask in
where a learned prior's output goes (a ``PriorMasker`` over a prior that returns it) and so
measures how much product the post-processing (edge finish, shadow trimming) takes away.
``--record FILE`` writes each scene's verdict and a digest of its mask; ``--against FILE`` then lists,
scene by scene, what a change did to the masks and the gate (fixed, broken, caught, missed, false
flags, cleared): the way a round tells its gains from its losses.

Prints a table: seconds per photo (median of --repeat runs, after one warm-up) for the classic
mask (backdrop model on, and the colour-only path it replaces on studio shots), the backdrop
estimate alone, the kept-shadow matte, and compositing with it; with the mask's IoU against the
scene's true mask where it applies.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from tests.studio_corpus import Scene


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
    parser.add_argument("--size", default=None,
                        help="W x H of the studio shot (default 2000x1500; with --corpus 800x600, or 'random')")
    parser.add_argument("--shot", default="mug of brick on beige", help="a name from tests/studio_scenes.SHOTS")
    parser.add_argument("--corpus", type=int, default=0, metavar="N", help="score N studio-corpus scenes")
    parser.add_argument("--seed", type=int, default=0, help="the corpus's seed")
    parser.add_argument("--masker", default="classic", help="masker kind for --corpus: classic, auto or sam")
    parser.add_argument("--perfect-prior", action="store_true", help="the true mask as the prior (--corpus)")
    parser.add_argument("--classes", default="", help="with --corpus, only these classes (comma-separated)")
    parser.add_argument("--list", action="store_true", help="with --corpus, a line per scene not clean or flagged")
    parser.add_argument("--save", default="", metavar="DIR",
                        help="with --corpus, write each scene not clean or flagged (photo, true and predicted mask)")
    parser.add_argument("--workers", type=int, default=1,
                        help="with --corpus, score scenes in this many processes (s/photo then reads the "
                             "time of photos that shared the cores: time with 1)")
    parser.add_argument("--record", default="", metavar="FILE",
                        help="with --corpus, write each scene's verdict and a digest of its mask (JSON)")
    parser.add_argument("--against", default="", metavar="FILE",
                        help="with --corpus, compare with a recorded run of the same scenes, scene by scene")
    args = parser.parse_args()
    if args.corpus:
        corpus_table(args)
        return
    w, h = (int(v) for v in (args.size or "2000x1500").lower().split("x"))

    from packshot.core.generation.composite import composite
    from packshot.core.generation.shadow import keep_shadow
    from packshot.core.generation.shadow_matte import estimate_shadow_matte
    from packshot.core.images import Photo
    from packshot.core.masking.backdrop import estimate_backdrop
    from packshot.core.masking.maskers import PriorMasker
    from packshot.core.masking.prior_classic import ClassicPrior
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


def corpus_table(args: argparse.Namespace) -> None:
    """Score ``args.corpus`` corpus scenes through the batch's masker and gate; print the table."""
    from packshot.core.jobs.settings import DEFAULT_DOUBT_SCORE
    from tests import studio_corpus as Sc
    from tests.core.masking import corpus_scoring as Cs

    size: Sc.Size = None if args.size == "random" else \
        tuple(int(v) for v in (args.size or "800x600").lower().split("x"))  # type: ignore[assignment]
    classes = tuple(args.classes.split(",")) if args.classes else Sc.CLASSES
    unknown = set(classes) - set(Sc.CLASSES)
    if unknown:
        raise SystemExit(f"unknown class {', '.join(sorted(unknown))}; the classes are {', '.join(Sc.CLASSES)}")
    jobs = Sc.corpus_ids(args.corpus, args.seed, classes)
    save = Path(args.save) if args.save else None
    scored = _score_corpus(jobs, size, None if args.perfect_prior else args.masker, max(1, args.workers),
                           keep_masks=save is not None)
    rows: list[Cs.Scored] = [r for r, _, _ in scored]
    for (scene_id, cls), (r, _, packed) in zip(jobs, scored):
        if (args.list or save) and (not r.clean or r.flagged):
            if args.list:
                print(f"{'clean' if r.clean else 'NOT clean'}, {'flagged' if r.flagged else 'not flagged'}: "
                      f"IoU {r.iou:.3f}, lost {100 * r.lost:.2f} %: {r.name}" + (f" -- {r.doubt}" if r.doubt else "")
                      + (" [the shadow step trimmed the mask]" if r.details.get("shadow_removed") else ""))
            if save:
                scene = Sc.make_scene(scene_id, cls, size)
                pred = np.unpackbits(packed, count=scene.mask.size).reshape(scene.mask.shape).astype(bool)
                write_case(save, scene, pred)
    recorded = [Cs.record(scene_id, r, digest) for (scene_id, _), (r, digest, _) in zip(jobs, scored)]
    run_size, run_masker = args.size or "800x600", "perfect-prior" if args.perfect_prior else args.masker
    if args.record:
        Path(args.record).write_text(json.dumps({"seed": args.seed, "size": run_size, "masker": run_masker,
                                                 "scenes": recorded}, indent=1))
        print(f"recorded {len(recorded)} scenes in {args.record}")
    what = "true mask as prior (post-processing only)" if args.perfect_prior else f"masker {args.masker!r}"
    print(f"Studio corpus: {args.corpus} scenes, seed {args.seed}, size {run_size}, {what}, "
          f"gate at score {DEFAULT_DOUBT_SCORE}")
    print(Cs.format_table(Cs.by_class(rows, classes)))
    if args.perfect_prior:
        over = sum(r.lost > 0.005 for r in rows)
        print(f"scenes losing more than 0.5 % of the product: {over} of {len(rows)}")
    if args.against:
        against = json.loads(Path(args.against).read_text())
        lines, counts = Cs.compare(against["scenes"], recorded)
        print(f"\nagainst {args.against}:")
        if (against.get("size"), against.get("masker")) != (run_size, run_masker):
            print(f"(recorded at size {against.get('size')} with {against.get('masker')}; this run: size {run_size} "
                  f"with {run_masker}: the masks differ for that alone)")
        print("\n".join(lines) if lines else "no mask and no flag changed")
        print(", ".join(f"{k} {v}" for k, v in counts.items()))


_MASKER = None  # the scoring processes' masker (built once per process, see _score_corpus)


def _score_one(job: tuple) -> tuple:
    """One corpus scene through the masker (the true mask as the prior when the kind is None) and the
    gate: (verdict, the mask's digest, the mask bit-packed when kept)."""
    from packshot.core.masking.maskers import PriorMasker, build_masker
    from tests import studio_corpus as Sc
    from tests.core.masking import corpus_scoring as Cs

    global _MASKER
    scene_id, cls, size, kind, keep = job
    scene = Sc.make_scene(scene_id, cls, size)
    if kind is None:
        verdict, pred = Cs.judge(PriorMasker(Cs.TruePrior(scene.mask)), scene)
    else:
        if _MASKER is None:
            _MASKER = build_masker(kind)
        verdict, pred = Cs.judge(_MASKER, scene)
    return verdict, Cs.mask_digest(pred), np.packbits(pred) if keep else None


def _score_corpus(jobs: list[tuple[int, str]], size, kind: str | None, workers: int, keep_masks: bool) -> list[tuple]:
    """``_score_one`` for every job, in order; over ``workers`` forked processes when more than one
    (the first scene runs here first, so the masker and every lazy import are loaded before the fork)."""
    tasks = [(scene_id, cls, size, kind, keep_masks) for scene_id, cls in jobs]
    if workers <= 1 or len(tasks) <= 1:
        return [_score_one(t) for t in tasks]
    import multiprocessing

    first = _score_one(tasks[0])
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return [first] + pool.map(_score_one, tasks[1:], chunksize=4)


def write_case(folder: Path, scene: Scene, pred: np.ndarray) -> None:
    """A scene that is not clean or was flagged: its photo, true mask and the masker's mask as PNGs."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{scene.seed:07d}-{scene.cls}"
    Image.fromarray(scene.image).save(folder / f"{stem}.jpg", quality=95)
    Image.fromarray(scene.mask.astype(np.uint8) * 255).save(folder / f"{stem}-true.png")
    Image.fromarray(pred.astype(np.uint8) * 255).save(folder / f"{stem}-mask.png")


if __name__ == "__main__":
    main()
