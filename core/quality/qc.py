"""Automatic quality control: score each generated result, flag it, optionally regenerate.

The gate is independent of how images are made: its caller (``packshot.core.jobs.PhotoJob``, which the
batch and the app's queue both run) passes a ``generate(seed) -> image`` callable and the gate asks
for new seeds while the result is over the threshold, keeping the lowest-expansion one.
(``packshot eval`` does not use the gate: it measures every result with ``packshot.core.quality.metric``.)

    gate = QualityGate(build_resegmenter("auto", runtime), QCSettings(threshold=0.10, retries=2))
    result = gate.run(lambda s: render_and_composite(photo, mask, s), mask.mask, seed=42)
    store_fields = result.record()   # expansion, expansion_object, signed, iou, flagged, seed, attempts...
    save(result.image)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from packshot.core.errors import PackshotError
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check, no_progress
from packshot.core.quality.metric import ExpansionScore, as_bool_mask, expansion
from packshot.core.quality.resegment import Resegmenter

# Retry seeds step far from the base seed: variants of one photo use seed, seed+1, ... and a retry
# must not reproduce a sibling variant. Deterministic, so a resumed batch regenerates the same images.
RETRY_SEED_STRIDE = 1_000_003
MEASURES = ("object", "image")


def retry_seed(seed: int, attempt: int) -> int:
    """Seed of the ``attempt``-th try (0 = the original seed), in the 32-bit range torch accepts."""
    return (int(seed) + attempt * RETRY_SEED_STRIDE) % (2**32)


@dataclass(frozen=True)
class QCSettings:
    """When a result is flagged and how hard the gate tries to fix it."""

    # Flag when expansion > threshold. Default measure "object": the outside area as a fraction of
    # the product (0.10 = the product looks 10 % bigger), comparable across product sizes.
    # "image": the paper's E as a fraction of the whole image.
    threshold: float = 0.10
    measure: str = "object"
    retries: int = 0  # extra generations (new seeds) for a flagged result; 0 = only flag

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise ValueError(f"QC measure must be one of {', '.join(MEASURES)}; got {self.measure!r}.")
        if self.threshold < 0:
            raise ValueError(f"QC threshold must be >= 0; got {self.threshold}.")
        if self.retries < 0:
            raise ValueError(f"QC retries must be >= 0; got {self.retries}.")

    def value(self, score: ExpansionScore) -> float:
        return score.expansion_object if self.measure == "object" else score.expansion


@dataclass(frozen=True)
class Attempt:
    """One scored generation: its seed and its scores."""

    seed: int
    score: ExpansionScore


@dataclass
class QCResult:
    """The kept result of one gated generation and what the project store records about it."""

    image: np.ndarray  # the kept (lowest-expansion) image
    output_mask: np.ndarray  # the product re-segmented in ``image``, H x W bool
    seed: int  # the seed that produced ``image``
    score: ExpansionScore
    flagged: bool  # the kept result is still over the threshold
    attempts: int  # generations scored (1 + retries used)
    threshold: float
    measure: str
    resegmenter: str
    history: list[Attempt] = field(default_factory=list)

    @property
    def expansion(self) -> float:
        return self.score.expansion

    @property
    def expansion_object(self) -> float:
        return self.score.expansion_object

    @property
    def signed(self) -> float:
        return self.score.signed

    @property
    def iou(self) -> float:
        return self.score.iou

    def record(self) -> dict[str, Any]:
        """Plain fields for the project store / recipe (no arrays)."""
        return {
            "expansion": self.score.expansion,
            "expansion_object": self.score.expansion_object,
            "signed": self.score.signed,
            "iou": self.score.iou,
            "flagged": self.flagged,
            "score": self.expansion_object if self.measure == "object" else self.expansion,  # vs threshold
            "seed": self.seed,
            "attempts": self.attempts,
            "threshold": self.threshold,
            "measure": self.measure,
            "resegmenter": self.resegmenter,
            "tried_seeds": [a.seed for a in self.history],
        }


def _mask_array(input_mask: Any) -> np.ndarray:
    """Accept a MaskResult (its ``.mask``) or any array mask."""
    return as_bool_mask(getattr(input_mask, "mask", input_mask), "input_mask")


def score_result(image: np.ndarray, input_mask: Any, resegmenter: Resegmenter,
                 cancel: Optional[CancelToken] = None) -> tuple[ExpansionScore, np.ndarray]:
    """Re-segment ``image`` and score it against ``input_mask``; returns (score, output mask)."""
    m_in = _mask_array(input_mask)
    if not m_in.any():
        raise PackshotError("QC: the product mask is empty, so there is no product to measure expansion "
                            "against; review the mask.")
    m_out = resegmenter.segment(image, m_in, cancel=cancel)
    return expansion(m_in, m_out), m_out


class QualityGate:
    """Scores generated results against their input mask; regenerates flagged ones on request."""

    def __init__(self, resegmenter: Resegmenter, settings: Optional[QCSettings] = None) -> None:
        self.resegmenter = resegmenter
        self.settings = settings or QCSettings()

    def is_flagged(self, score: ExpansionScore) -> bool:
        return self.settings.value(score) > self.settings.threshold

    def check(self, image: np.ndarray, input_mask: Any, seed: int,
              cancel: Optional[CancelToken] = None) -> QCResult:
        """Score one existing result without regenerating (the 'flag only' path)."""
        score, m_out = score_result(image, input_mask, self.resegmenter, cancel)
        return self._result(image, m_out, Attempt(seed, score), [Attempt(seed, score)])

    def run(self, generate: Callable[[int], np.ndarray], input_mask: Any, seed: int, *,
            first_image: Optional[np.ndarray] = None, cancel: Optional[CancelToken] = None,
            progress: ProgressCallback = no_progress) -> QCResult:
        """Generate (or take ``first_image`` as the result for ``seed``), score, and retry.

        While the best result so far is flagged and retries remain, ``generate`` is called with
        ``retry_seed(seed, k)``; the lowest-expansion result is kept (the earliest on a tie, so a
        retry must be strictly better to replace it). Stops as soon as a result passes.
        """
        m_in = _mask_array(input_mask)
        total = 1 + self.settings.retries
        history: list[Attempt] = []
        best: Optional[tuple[np.ndarray, np.ndarray, Attempt]] = None
        for k in range(total):
            check(cancel)
            s = retry_seed(seed, k)
            progress(Progress("qc", k, total, f"generating with seed {s}" if k else "scoring"))
            image = first_image if (k == 0 and first_image is not None) else generate(s)
            check(cancel)
            score, m_out = score_result(image, m_in, self.resegmenter, cancel)
            attempt = Attempt(s, score)
            history.append(attempt)
            if best is None or self.settings.value(score) < self.settings.value(best[2].score):
                best = (image, m_out, attempt)
            if not self.is_flagged(best[2].score):
                break
        progress(Progress("qc", total, total, "done"))
        assert best is not None
        return self._result(best[0], best[1], best[2], history)

    def _result(self, image: np.ndarray, m_out: np.ndarray, kept: Attempt, history: list[Attempt]) -> QCResult:
        return QCResult(image=image, output_mask=m_out, seed=kept.seed, score=kept.score,
                        flagged=self.is_flagged(kept.score), attempts=len(history),
                        threshold=self.settings.threshold, measure=self.settings.measure,
                        resegmenter=self.resegmenter.name, history=history)
