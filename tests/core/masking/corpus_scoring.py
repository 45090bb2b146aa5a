"""How a mask is judged on the studio corpus (tests/studio_corpus.py), shared by the benchmark
(tests/benchmarks/bench_masks.py --corpus) and the small-corpus tests.

A mask is *clean* when its IoU with the true mask is at least 0.95 AND it loses at most 1 % of
the product (product pixels predicted background / product pixels): a mask that paints over the
product is worse than one that keeps a sliver of backdrop. The true mask of a glass product is its
silhouette (see studio_corpus), so a masker that keeps the whole glass is right.

The gate is judged against cleanliness: *recall* = of the masks that are not clean, the share the
gate flagged; *false flags* = of the clean masks, the share it flagged.

``judge(masker, scene)`` runs a scene the way a batch runs a photo (``masker.compute``, the mask
quantised to the 8-bit PNG the job stores, the gate ``mask_doubt`` at the batch's default score;
an empty mask stops the photo with an error, so it counts as flagged). ``TruePrior`` is a prior
that returns the true mask: ``PriorMasker(TruePrior(scene.mask))`` measures what the
post-processing after a learned prior takes from a perfect one.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

if TYPE_CHECKING:
    from tests.studio_corpus import Scene

CLEAN_IOU = 0.95
CLEAN_MAX_LOST = 0.01


def iou(pred: np.ndarray, true: np.ndarray) -> float:
    union = np.logical_or(pred, true).sum()
    return float(np.logical_and(pred, true).sum() / union) if union else 1.0


def product_lost(pred: np.ndarray, true: np.ndarray) -> float:
    """Share of the true product that the mask calls background."""
    n = int(true.sum())
    return float(np.logical_and(true, ~pred).sum() / n) if n else 0.0


def clean(pred: np.ndarray, true: np.ndarray) -> bool:
    """IoU >= 0.95 and at most 1 % of the product lost."""
    return iou(pred, true) >= CLEAN_IOU and product_lost(pred, true) <= CLEAN_MAX_LOST


@dataclass
class Scored:
    """One scene's verdict: its class, the mask's quality, and what the gate said."""

    cls: str
    iou: float
    lost: float
    clean: bool
    flagged: bool
    doubt: Optional[str] = None
    seconds: float = 0.0
    name: str = ""
    details: dict = field(default_factory=dict)  # the masker's own (MaskResult.details), when judged


def score(cls: str, pred: np.ndarray, true: np.ndarray, doubt: Optional[str], seconds: float = 0.0,
          name: str = "") -> Scored:
    i, lost = iou(pred, true), product_lost(pred, true)
    return Scored(cls, i, lost, i >= CLEAN_IOU and lost <= CLEAN_MAX_LOST, doubt is not None, doubt, seconds, name)


@dataclass
class Summary:
    """The benchmark's row for a class (or "overall")."""

    label: str
    n: int
    clean_rate: float
    recall: Optional[float]  # None when every mask is clean (nothing to catch)
    false_flags: Optional[float]  # None when no mask is clean
    median_iou: float
    median_lost: float
    max_lost: float
    seconds: float


def summarise(label: str, rows: list[Scored]) -> Summary:
    bad = [r for r in rows if not r.clean]
    good = [r for r in rows if r.clean]
    return Summary(
        label, len(rows), sum(r.clean for r in rows) / len(rows),
        sum(r.flagged for r in bad) / len(bad) if bad else None,
        sum(r.flagged for r in good) / len(good) if good else None,
        statistics.median(r.iou for r in rows), statistics.median(r.lost for r in rows),
        max(r.lost for r in rows), statistics.mean(r.seconds for r in rows))


def by_class(rows: Iterable[Scored], classes: Optional[Iterable[str]] = None) -> list[Summary]:
    """One summary per class (in ``classes`` order when given) and the overall one last."""
    rows = list(rows)
    order = list(classes) if classes is not None else sorted({r.cls for r in rows})
    out = [summarise(c, [r for r in rows if r.cls == c]) for c in order if any(r.cls == c for r in rows)]
    return out + [summarise("overall", rows)]


def _pct(v: Optional[float]) -> str:
    return "-" if v is None else f"{100 * v:.0f} %"


def format_table(summaries: list[Summary]) -> str:
    head = (f"{'class':18s} {'N':>4s} {'clean':>6s} {'recall':>7s} {'false':>6s} {'med IoU':>8s} "
            f"{'med lost':>9s} {'max lost':>9s} {'s/photo':>8s}")
    lines = [head, "-" * len(head)]
    for s in summaries:
        lines.append(f"{s.label:18s} {s.n:4d} {_pct(s.clean_rate):>6s} {_pct(s.recall):>7s} "
                     f"{_pct(s.false_flags):>6s} {s.median_iou:8.3f} {100 * s.median_lost:8.2f}% "
                     f"{100 * s.max_lost:8.2f}% {s.seconds:8.2f}")
    return "\n".join(lines)


def judge(masker: Any, scene: Scene, min_score: Optional[float] = None) -> tuple[Scored, np.ndarray]:
    """The scene through ``masker`` and the batch's gate, as core/jobs/photo.py does; (verdict, mask)."""
    import time

    from packshot.core.images import Photo
    from packshot.core.jobs.masks import quantize_mask
    from packshot.core.jobs.settings import DEFAULT_DOUBT_SCORE
    from packshot.core.quality.mask_gate import mask_doubt

    start = time.perf_counter()
    result = masker.compute(Photo(pixels=scene.image))
    seconds = time.perf_counter() - start
    if not result.mask.any():  # the batch stops such a photo with an error: the user is told
        pred, doubt = result.mask, "no product found (empty mask)"
    else:
        threshold = DEFAULT_DOUBT_SCORE if min_score is None else min_score
        pred, doubt = quantize_mask(result).mask, mask_doubt(result, threshold)
    verdict = score(scene.cls, pred, scene.mask, doubt, seconds, scene.name)
    verdict.details = dict(result.details)
    return verdict, pred


def classic_corpus_mask(seed: int, cls: str, size: tuple[int, int] = (800, 600)) -> tuple[Scene, np.ndarray]:
    """A corpus scene and the mask a batch keeps for it with the classic masker (the 8-bit PNG's mask)."""
    from packshot.core.images import Photo
    from packshot.core.jobs.masks import quantize_mask
    from packshot.core.masking.maskers import build_masker
    from tests import studio_corpus as Sc

    scene = Sc.make_scene(seed, cls, size)
    return scene, quantize_mask(build_masker("classic").compute(Photo(pixels=scene.image))).mask


def assert_classic_mask_clean(seed: int, cls: str, why: str = "", size: tuple[int, int] = (800, 600)) -> None:
    """Assert that the classic mask a batch keeps for this corpus scene is clean (``clean``); ``why``
    says what went wrong there before, for the failure message."""
    scene, pred = classic_corpus_mask(seed, cls, size)
    assert clean(pred, scene.mask), (why, iou(pred, scene.mask), product_lost(pred, scene.mask))


class TruePrior:
    """A salient prior that returns the scene's true mask at full resolution (a perfect learned prior)."""

    name = "true-mask"

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask

    def __call__(self, rgb8: np.ndarray) -> Any:
        from packshot.core.masking.prior import PriorResult

        return PriorResult(self.mask.copy(), 1.0, {"work_size": [rgb8.shape[1], rgb8.shape[0]]})


def mask_digest(pred: np.ndarray) -> str:
    """A short digest of a mask: two runs that give the same digest gave the same mask."""
    import hashlib

    return hashlib.sha1(np.packbits(pred).tobytes() + str(pred.shape).encode()).hexdigest()[:16]


def record(scene_id: int, verdict: Scored, digest: str) -> dict:
    """One scene's verdict as a JSON-ready row (``bench_masks --record``), its mask as ``mask_digest``,
    so that a later run can tell a changed mask from the same one."""
    return {"scene": int(scene_id), "class": verdict.cls, "name": verdict.name, "iou": round(verdict.iou, 5),
            "lost": round(verdict.lost, 5), "clean": verdict.clean, "flagged": verdict.flagged,
            "doubt": verdict.doubt, "mask": digest}


def compare(before: list[dict], after: list[dict]) -> tuple[list[str], dict[str, int]]:
    """What changed scene by scene between two recorded runs of the same scenes (``bench_masks
    --against``): a line per scene whose mask or flag changed, and the counts. fixed / broken: a mask
    not clean before is clean now / the other way; caught / missed: a mask not clean now that the gate
    flags and did not / no longer flags; false / cleared: a clean mask now flagged / no longer flagged;
    and how many of ``after``'s scenes ``before`` does not hold."""
    # a scene is its seed and its class (a run over fewer classes gives the same seed another class)
    old = {(row["scene"], row["class"]): row for row in before}
    lines: list[str] = []
    counts = dict.fromkeys(("masks changed", "fixed", "broken", "caught", "missed", "false", "cleared",
                            "not in the record"), 0)
    for new in after:
        was = old.get((new["scene"], new["class"]))
        if was is None:
            counts["not in the record"] += 1
            continue
        if was["mask"] == new["mask"] and was["flagged"] == new["flagged"]:
            continue
        counts["masks changed"] += was["mask"] != new["mask"]
        tag = ""
        if was["clean"] != new["clean"]:
            tag = "FIXED" if new["clean"] else "BROKEN"
            counts["fixed" if new["clean"] else "broken"] += 1
        if was["flagged"] != new["flagged"]:
            if new["clean"]:
                counts["false" if new["flagged"] else "cleared"] += 1
            else:
                counts["caught" if new["flagged"] else "missed"] += 1
        lines.append(f"{new['scene']} {new['class']:17s} IoU {was['iou']:.3f} -> {new['iou']:.3f}, lost "
                     f"{100 * was['lost']:.2f} -> {100 * new['lost']:.2f} %, flagged {int(was['flagged'])} -> "
                     f"{int(new['flagged'])} {tag}".rstrip())
    return lines, counts
