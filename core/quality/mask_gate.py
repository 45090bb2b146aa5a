"""The batch's mask quality gate: is an automatic mask worth a human look before it is used?

A mask is doubtful when its masker says why (``MaskResult.doubt``: e.g. no studio backdrop was
found), when its score is below the threshold, or when SAM and the salient prior that seeded it
disagree (``details["prior_agreement"]``, their IoU). Reviewed masks are never doubtful.
"""

from __future__ import annotations

from typing import Any, Optional

PRIOR_AGREEMENT_MIN = 0.6  # IoU of SAM's mask and its prior's below which one of them is wrong


def mask_doubt(result: Any, min_score: float) -> Optional[str]:
    """Why ``result`` (a ``MaskResult``) needs review, in a few words; None when it passes."""
    given = getattr(result, "doubt", None)
    if given:
        return str(given)
    if result.score < min_score:
        return f"score {result.score:.2f} is below {min_score:.2f}"
    details = getattr(result, "details", None) or {}
    agreement = details.get("prior_agreement")
    sam_used = str(getattr(result, "source", "")).startswith("sam")  # else the prior's own mask is used
    if sam_used and agreement is not None and not details.get("prior_empty") \
            and float(agreement) < PRIOR_AGREEMENT_MIN:
        return f"SAM and the {details.get('prior', 'salient')} prior disagree (IoU {float(agreement):.2f})"
    return None
