"""The batch's mask quality gate: is an automatic mask worth a human look before it is used?

A mask is doubtful when its masker says why (``MaskResult.doubt``: e.g. no studio backdrop was
found), when the photo itself disagrees with it (``packshot.core.quality.mask_evidence``: the outline runs
over smooth pixels or barely differs from the backdrop, backdrop or shadow is kept as product,
outlines lie outside the mask; the maskers store these findings in ``details["evidence"]``), when
its score is below the threshold, or when SAM and the salient prior that seeded it disagree
(``details["prior_agreement"]``, their IoU). The photo's evidence does not depend on the masker's
own confidence, so it also catches the masks a masker is sure of and wrong about. Reviewed masks
are never doubtful (the job asks only about automatic ones).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

PRIOR_AGREEMENT_MIN = 0.6  # IoU of SAM's mask and its prior's below which one of them is wrong


def mask_doubt(result: Any, min_score: float, image: Optional[np.ndarray] = None) -> Optional[str]:
    """Why ``result`` (a ``MaskResult``) needs review, in a few words; None when it passes.

    ``image``: the photo's pixels (H x W x 3), used to gather the evidence when the masker did not
    (a result without ``details["evidence"]``); without it such a result is judged on its score.
    """
    given = getattr(result, "doubt", None)
    if given:
        return str(given)
    details = getattr(result, "details", None) or {}
    findings = _findings(result, details, image)
    if findings:
        return "; ".join(findings)
    if result.score < min_score:
        return f"score {result.score:.2f} is below {min_score:.2f}"
    agreement = details.get("prior_agreement")
    sam_used = str(getattr(result, "source", "")).startswith("sam")  # else the prior's own mask is used
    if sam_used and agreement is not None and not details.get("prior_empty") \
            and float(agreement) < PRIOR_AGREEMENT_MIN:
        return f"SAM and the {details.get('prior', 'salient')} prior disagree (IoU {float(agreement):.2f})"
    return None


def _findings(result: Any, details: dict, image: Optional[np.ndarray]) -> list[str]:
    evidence = details.get("evidence")
    if isinstance(evidence, dict):
        return [str(f) for f in evidence.get("findings", [])]
    if image is None or str(getattr(result, "source", "")) in ("alpha-channel", "file", "edited", "reviewed"):
        return []
    from packshot.core.quality.mask_evidence import mask_evidence

    return mask_evidence(np.asarray(image), result.mask, details).findings
