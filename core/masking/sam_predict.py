"""One SAM decoder call with prompts in full-resolution photo pixels, mask back at full resolution.

The predictor works at model resolution (the photo resized to long side 1024). Prompts are
mapped there with pixel centres aligned, and the chosen mask's logits are resized back to the
photo's size before thresholding, so the mask lines up with the photo pixel for pixel whatever its
size (SamPredictor would otherwise upsample three float masks to full size on every click).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from packshot.core.masking.embedding import Embedding
from packshot.core.quality.metric import iou as _iou

STABILITY_OFFSET = 1.0  # SAM's automatic mask generator uses the same logit offset


@dataclass
class Prompts:
    """Prompts in full-resolution pixel coordinates (x, y); labels 1 = product, 0 = background."""

    points: np.ndarray  # N x 2 float
    labels: np.ndarray  # N int
    box: Optional[np.ndarray] = None  # x0, y0, x1, y1

    @classmethod
    def empty(cls) -> Prompts:
        return cls(np.zeros((0, 2), np.float32), np.zeros(0, np.int32), None)

    def rescaled(self, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> Prompts:
        """The same prompts on an image of another size (pixel centres aligned)."""
        sx, sy = to_hw[1] / from_hw[1], to_hw[0] / from_hw[0]
        pts = np.stack([(self.points[:, 0] + 0.5) * sx - 0.5, (self.points[:, 1] + 0.5) * sy - 0.5], axis=1)
        box = None
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            box = np.array([x0 * sx, y0 * sy, (x1 + 1) * sx - 1, (y1 + 1) * sy - 1], np.float32)
        return Prompts(pts.astype(np.float32).reshape(-1, 2), self.labels.copy(), box)

    def to_json(self) -> dict:
        return {"points": np.round(self.points, 2).tolist(), "labels": self.labels.astype(int).tolist(),
                "box": None if self.box is None else np.round(self.box, 2).tolist()}

    @classmethod
    def from_json(cls, data: dict) -> Prompts:
        pts = np.asarray(data.get("points") or np.zeros((0, 2)), np.float32).reshape(-1, 2)
        box = data.get("box")
        return cls(pts, np.asarray(data.get("labels") or [], np.int32),
                   None if box is None else np.asarray(box, np.float32))


@dataclass
class Prediction:
    mask: np.ndarray  # full-resolution bool
    low_res_logits: np.ndarray  # 1 x 256 x 256: feed back as mask_input on the next click
    predicted_iou: float
    stability: float
    candidates: list[float]  # predicted IoU of each candidate mask

    @property
    def score(self) -> float:
        """Trust in [0, 1]: SAM's own IoU estimate times the mask's stability under threshold shifts."""
        return float(np.clip(self.predicted_iou, 0, 1) * self.stability)


def to_work(xy: np.ndarray, photo_hw: tuple[int, int], work_hw: tuple[int, int]) -> np.ndarray:
    """Map full-resolution pixel coordinates to model-resolution ones (pixel centres aligned)."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    sx, sy = work_hw[1] / photo_hw[1], work_hw[0] / photo_hw[0]
    return np.stack([(xy[:, 0] + 0.5) * sx - 0.5, (xy[:, 1] + 0.5) * sy - 0.5], axis=1)


def predict(predictor: Any, embedding: Embedding, prompts: Prompts, mask_input: Optional[np.ndarray] = None,
            multimask: Optional[bool] = None, prior: Optional[np.ndarray] = None, clean: bool = False) -> Prediction:
    """Decode ``prompts`` on the embedded photo and return the best mask at full resolution.

    ``multimask`` defaults to SAM's advice: three candidates for an ambiguous single point,
    one mask otherwise. Among candidates, SAM's predicted IoU decides; with a ``prior`` mask
    (work resolution or full) agreement with it breaks near-ties. ``clean`` drops specks and fills
    small holes, decided at model resolution (cheap on 24 MP photos) and applied at full size.
    """
    import torch

    has_points = len(prompts.points) > 0
    if not has_points and prompts.box is None and mask_input is None:
        raise ValueError("SAM needs at least one point, a box or a mask to predict from")
    if multimask is None:
        multimask = len(prompts.points) <= 1 and prompts.box is None
    coords = to_work(prompts.points, embedding.photo_size, embedding.work_size) if has_points else None
    box = None
    if prompts.box is not None:
        box = to_work(np.asarray(prompts.box).reshape(2, 2), embedding.photo_size, embedding.work_size).reshape(4)
    with torch.inference_mode():
        logits, ious, low_res = predictor.predict(
            point_coords=coords, point_labels=prompts.labels if has_points else None, box=box,
            mask_input=mask_input, multimask_output=multimask, return_logits=True)
    logits = np.asarray(logits, np.float32)
    ious = np.asarray(ious, np.float32)
    choice = _choose(logits, ious, prior)
    stability = stability_score(logits[choice])
    mask = upsample_logits(logits[choice], embedding.photo_size) > 0.0
    if clean:
        mask = _clean_via_work_size(mask, logits[choice] > 0.0)
    return Prediction(mask,
                      np.asarray(low_res[choice : choice + 1], np.float32), float(ious[choice]),
                      stability, [round(float(v), 4) for v in ious])


def _choose(logits: np.ndarray, ious: np.ndarray, prior: Optional[np.ndarray]) -> int:
    if prior is None or len(ious) == 1:
        return int(np.argmax(ious))
    import cv2

    small_prior = prior
    if prior.shape != logits.shape[1:]:
        small_prior = cv2.resize(prior.astype(np.uint8), logits.shape[:0:-1], interpolation=cv2.INTER_NEAREST) > 0
    agree = np.array([_iou(m > 0, small_prior) for m in logits])
    return int(np.argmax(np.clip(ious, 0, 1) + agree))  # both count; agreement guards against odd candidates


def _clean_via_work_size(full: np.ndarray, small: np.ndarray) -> np.ndarray:
    from packshot.core.masking.postprocess import clean_mask

    cleaned = clean_mask(small)
    if full.shape == small.shape:
        return cleaned
    import cv2

    size = (full.shape[1], full.shape[0])
    removed, added = small & ~cleaned, cleaned & ~small
    if removed.any():
        full &= ~(cv2.resize(removed.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0)
    if added.any():
        full |= cv2.resize(added.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return full


def stability_score(logits: np.ndarray, offset: float = STABILITY_OFFSET) -> float:
    """IoU of the mask thresholded at +offset and -offset (1.0 = edges do not move)."""
    high, low = (logits > offset).sum(), (logits > -offset).sum()
    return float(high / low) if low else 0.0


def upsample_logits(logits: np.ndarray, photo_hw: tuple[int, int]) -> np.ndarray:
    """Resize work-resolution logits to the photo's size (linear, pixel centres aligned)."""
    import cv2

    if logits.shape == tuple(photo_hw):
        return logits
    return cv2.resize(logits, (photo_hw[1], photo_hw[0]), interpolation=cv2.INTER_LINEAR)
