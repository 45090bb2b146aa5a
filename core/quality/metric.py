"""Object-expansion metric: how much product appears in a generated image outside the input mask.

Pure numpy, no models. Masks may be bool or uint8 (0..255, thresholded at 127 as the authors'
notebook does); both masks must have the same shape (the photo's full resolution).

Two forms are in use and both are reported:
- the paper's E = area(m_out ∪ m_in) − area(m_in) = area(m_out \\ m_in): object pixels in the output
  that lie outside the input mask; never negative. We give it as a fraction of the image
  (``expansion``) and of the input object (``expansion_object``).
- the notebook's signed variant mean(out > 127) − mean(in > 127) (``signed``): the change of the
  object's area as a fraction of the image; negative when the object shrank, and an object that
  moved without growing scores 0 although E does not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# The notebook thresholds 0..255 masks at 127 (``> 127``); bool masks pass through unchanged.
MASK_THRESHOLD = 127


@dataclass(frozen=True)
class ExpansionScore:
    """Expansion of the object from the input mask to the re-segmented output mask."""

    expansion: float  # paper's E: area(out ∪ in) − area(in), as a fraction of the image
    expansion_object: float  # the same area as a fraction of the input object's area
    signed: float  # notebook: mean(out) − mean(in), fraction of the image (can be negative)
    iou: float  # |out ∩ in| / |out ∪ in| (1.0 when both are empty)
    input_area: int  # pixels in the input mask
    output_area: int  # pixels in the output mask
    outside_area: int  # output pixels outside the input mask (E in pixels)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def as_bool_mask(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """A 2-D bool mask from bool, 0..255 integer or 0..1 float input (H x W or H x W x 1)."""
    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D H x W mask, got shape {arr.shape}.")
    if arr.dtype == bool:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        # Soft alphas in [0, 1]: the same halfway threshold as 127 of 255.
        return arr > 0.5 if arr.max(initial=0.0) <= 1.0 else arr > MASK_THRESHOLD
    if np.issubdtype(arr.dtype, np.integer):
        return arr > MASK_THRESHOLD
    raise ValueError(f"{name} has unsupported dtype {arr.dtype}.")


def expansion(input_mask: np.ndarray, output_mask: np.ndarray) -> ExpansionScore:
    """Score how the object in ``output_mask`` extends beyond ``input_mask`` (same H x W)."""
    m_in = as_bool_mask(input_mask, "input_mask")
    m_out = as_bool_mask(output_mask, "output_mask")
    if m_in.shape != m_out.shape:
        raise ValueError(f"Mask sizes differ: input {m_in.shape[::-1]} vs output {m_out.shape[::-1]} (w x h).")
    total = m_in.size
    in_area = int(np.count_nonzero(m_in))
    out_area = int(np.count_nonzero(m_out))
    inter = int(np.count_nonzero(m_in & m_out))
    union = in_area + out_area - inter
    outside = union - in_area
    return ExpansionScore(
        expansion=outside / total,
        # An empty input mask has no object to be a fraction of: any output object is infinite growth.
        expansion_object=(outside / in_area) if in_area else (0.0 if outside == 0 else float("inf")),
        signed=(out_area - in_area) / total,
        iou=(inter / union) if union else 1.0,
        input_area=in_area,
        output_area=out_area,
        outside_area=outside,
    )


def signed_expansion(input_mask: np.ndarray, output_mask: np.ndarray) -> float:
    """The authors' notebook metric: mean(out > 127) − mean(in > 127)."""
    return expansion(input_mask, output_mask).signed


def iou(mask_a: np.ndarray, mask_b: np.ndarray) -> float:
    """Intersection over union of two masks (1.0 when both are empty): the one IoU of the project
    (maskers, priors, SAM prompting, QC and eval all use it). Masks as ``as_bool_mask`` reads them."""
    a, b = as_bool_mask(mask_a, "mask_a"), as_bool_mask(mask_b, "mask_b")
    if a.shape != b.shape:
        raise ValueError(f"Mask sizes differ: {a.shape[::-1]} vs {b.shape[::-1]} (w x h).")
    union = int(np.count_nonzero(a | b))
    return int(np.count_nonzero(a & b)) / union if union else 1.0
