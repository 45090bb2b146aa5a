"""Re-segmenting the product in a generated image, to compare with the mask it was generated from.

A ``Resegmenter`` turns (generated image, input mask) into the output object mask at the same
resolution. Two kinds:
- ``SamResegmenter``: SAM on the generated image, prompted with points sampled inside the input
  mask and a box around it (the paper re-segments with SAM from points). The box is widened by
  ``box_margin`` because SAM keeps its mask inside the box: a tight box would hide exactly the
  expansion we are looking for.
- ``MaskerResegmenter``: any ``packshot.core.masking`` masker run on the generated image alone (the classic
  prior when no SAM weights are present; a deterministic masker in tests).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Optional, Protocol

import numpy as np

from packshot.core.images import Photo
from packshot.core.progress import CancelToken, check
from packshot.core.quality.metric import as_bool_mask

if TYPE_CHECKING:  # pragma: no cover
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)


class Resegmenter(Protocol):
    """Finds the product in ``image`` (H x W x 3) given the mask it was generated from."""

    name: str

    def segment(self, image: np.ndarray, input_mask: np.ndarray,
                cancel: Optional[CancelToken] = None) -> np.ndarray:
        """Return the output object mask, H x W bool, aligned with ``image``."""
        ...


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 view of a generated or composited image (uint16 reduced, alpha dropped)."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"Expected an H x W x 3 image, got shape {arr.shape}.")
    arr = arr[:, :, :3]
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ValueError(f"Expected a uint8 or uint16 image, got {arr.dtype}.")
    return np.ascontiguousarray(arr)


def prompts_from_mask(mask: np.ndarray, n_points: int = 5, box_margin: Optional[float] = 0.25
                      ) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """SAM prompts from a mask: ``n_points`` positive points deep inside it and its widened box.

    Points: the innermost pixel of each sizeable part first (so every part of a multi-part product
    is prompted), then farthest-point sampling among pixels well inside the mask (away from the
    edge, where a point could land on background). Deterministic for a given mask.
    Returns (points N x 2 as x, y; labels N of 1; box [x0, y0, x1, y1] or None).
    """
    import cv2

    m = as_bool_mask(mask, "input_mask")
    if not m.any():
        raise ValueError("The input mask is empty: there is no product to re-segment.")
    h, w = m.shape
    m8 = m.astype(np.uint8)
    dist = cv2.distanceTransform(m8, cv2.DIST_L2, 5)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m8, connectivity=8)
    total = int(m.sum())
    parts = sorted(range(1, count), key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    points: list[tuple[int, int]] = []
    for i in parts:
        if len(points) >= n_points or stats[i, cv2.CC_STAT_AREA] < 0.02 * total:
            break
        comp_dist = np.where(labels == i, dist, -1.0)
        y, x = np.unravel_index(int(np.argmax(comp_dist)), comp_dist.shape)
        points.append((int(x), int(y)))
    # Candidates: inside the mask and at least 30 % as deep as its deepest pixel, on a grid so
    # the sampling stays cheap on 24 MP photos.
    step = max(1, int(np.sqrt(h * w / 40_000)))
    ys, xs = np.nonzero(dist[::step, ::step] >= 0.3 * float(dist.max()))
    cand = np.stack([xs * step, ys * step], axis=1).astype(np.float64)
    if len(cand):
        chosen = np.array(points, dtype=np.float64)
        nearest = np.min(np.linalg.norm(cand[:, None, :] - chosen[None, :, :], axis=2), axis=1)
        while len(points) < n_points and nearest.max() > 0:
            k = int(np.argmax(nearest))
            points.append((int(cand[k, 0]), int(cand[k, 1])))
            nearest = np.minimum(nearest, np.linalg.norm(cand - cand[k], axis=1))
    coords = np.array(points, dtype=np.float32)
    labels_out = np.ones(len(points), dtype=np.int32)
    box = None
    if box_margin is not None:
        ys_all, xs_all = np.nonzero(m)
        x0, x1, y0, y1 = xs_all.min(), xs_all.max(), ys_all.min(), ys_all.max()
        mx, my = box_margin * (x1 - x0 + 1), box_margin * (y1 - y0 + 1)
        box = np.array([max(0.0, x0 - mx), max(0.0, y0 - my), min(w - 1.0, x1 + mx), min(h - 1.0, y1 + my)],
                       dtype=np.float32)
    return coords, labels_out, box


class SamResegmenter:
    """SAM prompted from the input mask (points + widened box) on the generated image."""

    def __init__(self, predictor: Any, *, name: str = "sam", n_points: int = 5,
                 box_margin: Optional[float] = 0.25) -> None:
        # ``predictor``: a segment_anything.SamPredictor (set_image + predict).
        self.predictor = predictor
        self.name = name
        self.n_points = n_points
        self.box_margin = box_margin
        self._lock = threading.Lock()  # the predictor holds one image at a time

    def segment(self, image: np.ndarray, input_mask: np.ndarray,
                cancel: Optional[CancelToken] = None) -> np.ndarray:
        rgb = to_rgb8(image)
        m_in = as_bool_mask(input_mask, "input_mask")
        if m_in.shape != rgb.shape[:2]:
            raise ValueError(f"Input mask {m_in.shape[::-1]} and image {rgb.shape[1::-1]} sizes differ (w x h).")
        points, labels, box = prompts_from_mask(m_in, self.n_points, self.box_margin)
        check(cancel)
        with self._lock:
            self.predictor.set_image(rgb)  # the expensive encoder run: once per generated image
            # Several points (+ box) are an unambiguous prompt: SAM's single-mask output is trained for
            # that; a lone point is ambiguous (part vs whole), so then SAM's own IoU estimate picks.
            multimask = len(points) == 1 and box is None
            masks, scores, _ = self.predictor.predict(point_coords=points, point_labels=labels, box=box,
                                                      multimask_output=multimask)
            self.predictor.reset_image()  # do not keep a generated image's embedding around
        return np.asarray(masks[int(np.argmax(scores))], dtype=bool)


class MaskerResegmenter:
    """Any ``packshot.core.masking`` masker (``.compute(photo) -> MaskResult``) run on the generated image.

    With ``connected_to_input`` (default) only the parts of the masker's output that touch the input
    mask count: an unprompted masker also finds separate objects the background added (a vase
    beside the bottle), which are scenery, not the product grown; SAM prompted from the product's
    points makes the same distinction by itself.
    """

    def __init__(self, masker: Any, *, name: Optional[str] = None, connected_to_input: bool = True) -> None:
        self.masker = masker
        self.name = name or f"masker:{getattr(masker, 'name', type(masker).__name__)}"
        self.connected_to_input = connected_to_input

    def segment(self, image: np.ndarray, input_mask: np.ndarray,
                cancel: Optional[CancelToken] = None) -> np.ndarray:
        rgb = to_rgb8(image)
        result = self.masker.compute(Photo(pixels=rgb), cancel=cancel)
        out = as_bool_mask(result.mask, "output_mask")
        if out.shape != rgb.shape[:2]:
            raise ValueError(f"Masker {self.name} returned a {out.shape[::-1]} mask for a "
                             f"{rgb.shape[1::-1]} image.")
        if self.connected_to_input:
            out = keep_parts_touching(out, as_bool_mask(input_mask, "input_mask"))
        return out


def keep_parts_touching(mask: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The connected parts of ``mask`` that overlap ``reference`` (8-connectivity)."""
    import cv2

    if mask.shape != reference.shape:
        raise ValueError(f"Mask sizes differ: {mask.shape[::-1]} vs {reference.shape[::-1]} (w x h).")
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask.copy()
    touching = np.unique(labels[reference & mask])
    keep = np.zeros(count, bool)
    keep[touching[touching > 0]] = True
    return keep[labels]


RESEGMENTER_KINDS = ("auto", "sam", "classic")


def build_resegmenter(kind: str, runtime: Runtime, *, sam_variant: str = "vit_b",
                      device: str = "auto", n_points: int = 5, box_margin: Optional[float] = 0.25) -> Resegmenter:
    """A resegmenter by name: "sam" (needs the SAM weights), "classic" (no weights), or "auto"
    (SAM when ``sam_variant`` is available in the runtime's store, else classic, logged). SAM comes
    from ``runtime``."""
    if kind not in RESEGMENTER_KINDS:
        raise ValueError(f"Unknown re-segmentation {kind!r}; choose one of {', '.join(RESEGMENTER_KINDS)}.")
    from packshot.core.masking.sam_models import model_id_for

    if kind == "auto":
        kind = "sam" if runtime.store.available(model_id_for(sam_variant)) else "classic"
        if kind == "classic":
            log.info("QC re-segmentation uses the classic prior: %s is not on this machine.",
                     model_id_for(sam_variant))
    if kind == "sam":
        from segment_anything import SamPredictor

        from packshot.core.masking.sam_models import sam_for

        loaded = sam_for(runtime, sam_variant, device)  # ModelMissingError names the fix
        return SamResegmenter(SamPredictor(loaded.model), name=loaded.name, n_points=n_points,
                              box_margin=box_margin)
    from packshot.core.masking.maskers import build_masker

    return MaskerResegmenter(build_masker("classic", runtime, device=device), name="classic")
