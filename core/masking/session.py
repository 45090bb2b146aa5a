"""Interactive mask editing for one photo: clicks, box, brush, undo/redo, reset.

A ``MaskSession`` keeps a history of immutable steps. Each step holds the prompts so far, the
brush strokes so far and the model's mask for those prompts (the "base"). The shown mask is the
base with the strokes painted over it in order: the person's brush always has the last word,
and a later click re-runs the model without losing earlier brush work.

Backends: ``SamBackend`` (the embedding is computed once per photo through the shared
``EmbeddingCache``; every click is one decoder call, fed SAM's previous low-res logits as
``mask_input``) and ``GrabCutBackend`` (no weights: clicks become GrabCut seeds).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Optional, Protocol, Sequence

import numpy as np

from packshot.core.images import Photo
from packshot.core.masking.postprocess import clean_mask, snap_to_edges, soft_alpha
from packshot.core.masking.result import MaskResult
from packshot.core.masking.sam_predict import Prompts
from packshot.core.progress import CancelToken

if TYPE_CHECKING:
    from packshot.core.masking.embedding import EmbeddingCache
    from packshot.core.masking.sam_models import LoadedSam

MAX_HISTORY = 100
# A person's click within this fraction of the image diagonal of an automatic prompt point of
# the opposite label overrides that point (otherwise SAM gets contradictory prompts).
OVERRIDE_RADIUS = 0.04


@dataclass(frozen=True)
class Stroke:
    """A brush stroke in full-resolution pixels: a polyline of ``points`` painted ``radius`` wide."""

    points: tuple[tuple[float, float], ...]
    radius: float
    add: bool


@dataclass(frozen=True)
class _Step:
    op: str
    auto: Prompts  # prompts inherited from the automatic mask (may be overridden by clicks)
    user: Prompts  # the person's clicks and box
    strokes: tuple[Stroke, ...]
    base_bits: np.ndarray  # np.packbits of the model mask: 8x smaller history on 24 MP photos
    feedback: Any = None  # backend state to refine from (SAM low-res logits)
    score: float = 0.0
    info: dict = field(default_factory=dict)


class SessionBackend(Protocol):
    name: str

    def prepare(self, cancel: Optional[CancelToken] = None) -> None: ...

    def predict(self, prompts: Prompts, feedback: Any, base: np.ndarray) -> tuple[np.ndarray, Any, float, dict]:
        """(full-res mask, feedback for the next call, score, info) for ``prompts``."""
        ...


class SamBackend:
    """SAM decoder calls on the photo's cached embedding."""

    def __init__(self, sam: LoadedSam, photo: Photo, cache: EmbeddingCache) -> None:
        self.sam, self.photo, self.cache = sam, photo, cache
        self.name = sam.name
        self.needs_prompts = True  # SAM forgets the current mask unless it is prompted with it
        self._predictor = None
        self._embedding = None

    def prepare(self, cancel: Optional[CancelToken] = None) -> None:
        """Get the embedding now (from the cache, or one encoder run) so the first click is fast."""
        from packshot.core.masking.embedding import predictor_for

        if self._predictor is None:
            self._embedding = self.cache.get(self.photo, cancel)
            self._predictor = predictor_for(self.sam, self._embedding)

    def predict(self, prompts: Prompts, feedback: Any, base: np.ndarray) -> tuple[np.ndarray, Any, float, dict]:
        from packshot.core.masking.sam_predict import predict

        self.prepare()
        pred = predict(self._predictor, self._embedding, prompts, mask_input=feedback, clean=True)
        info = {"predicted_iou": round(pred.predicted_iou, 4), "stability": round(pred.stability, 4)}
        return pred.mask, pred.low_res_logits, pred.score, info


class GrabCutBackend:
    """Clicks as GrabCut seeds around the current mask (works with no model weights)."""

    name = "grabcut"

    def __init__(self, photo: Photo, work_side: int = 512, iterations: int = 3) -> None:
        from packshot.core.masking.prior_classic import _downscale

        self.photo = photo
        self.small = _downscale(photo.rgb8, work_side)
        self.iterations = iterations

    def prepare(self, cancel: Optional[CancelToken] = None) -> None:
        """Nothing to precompute."""

    def predict(self, prompts: Prompts, feedback: Any, base: np.ndarray) -> tuple[np.ndarray, Any, float, dict]:
        import cv2

        from packshot.core.masking.postprocess import resize_mask
        from packshot.core.masking.prior_classic import _grabcut

        h, w = self.small.shape[:2]
        full_h, full_w = base.shape
        sx, sy = w / full_w, h / full_h
        gc = np.where(resize_mask(base, (w, h)), cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        if prompts.box is not None:
            x0, y0, x1, y1 = prompts.box
            inside = np.zeros_like(gc, bool)
            inside[int(y0 * sy):int(np.ceil(y1 * sy)) + 1, int(x0 * sx):int(np.ceil(x1 * sx)) + 1] = True
            gc[~inside] = cv2.GC_BGD
            if not base.any():  # a box on an empty mask: the box itself is the first guess
                gc[inside] = cv2.GC_PR_FGD
        radius = max(3, int(round(0.012 * np.hypot(h, w))))
        for (x, y), label in zip(prompts.points, prompts.labels):
            centre = (int(round((x + 0.5) * sx - 0.5)), int(round((y + 0.5) * sy - 0.5)))
            cv2.circle(gc, centre, radius, int(cv2.GC_FGD if label else cv2.GC_BGD), -1)
        small_mask = _grabcut(self.small, gc, self.iterations)
        mask = resize_mask(small_mask, (full_w, full_h))
        scale = full_w / w
        if scale > 1.5:
            mask = snap_to_edges(mask, self.photo.rgb8, int(np.ceil(scale)))
        # the clicked spots themselves obey the clicks, whatever the colour model says
        mask_u8 = clean_mask(mask).astype(np.uint8)
        for (x, y), label in zip(prompts.points, prompts.labels):
            cv2.circle(mask_u8, (int(round(x)), int(round(y))), max(1, int(radius / sx)), int(bool(label)), -1)
        return mask_u8.astype(bool), None, float("nan"), {}


class MaskSession:
    """Edit one photo's mask. Coordinates are full-resolution photo pixels (x right, y down)."""

    def __init__(self, photo: Photo, backend: SessionBackend, initial: Optional[MaskResult] = None) -> None:
        h, w = photo.pixels.shape[:2]
        if initial is not None and initial.mask.shape != (h, w):
            raise ValueError(f"initial mask is {initial.size}, photo is {(w, h)}")
        self.photo = photo
        self.backend = backend
        self.initial = initial
        auto = Prompts.empty()
        if initial is not None and getattr(backend, "needs_prompts", False):
            if initial.source.startswith("sam") and "prompts" in initial.details:
                auto = Prompts.from_json(initial.details["prompts"])
            elif initial.mask.any():
                # a mask from a file, the classic path or an earlier edit: prompt SAM with its box
                # and inner points, so a first click refines the whole product instead of
                # replacing it with the one part under the cursor
                from packshot.core.masking.prompts import prompts_at_work_size

                auto = prompts_at_work_size(initial.mask, 3)
        base = initial.mask if initial is not None else np.zeros((h, w), bool)
        first = _Step("initial", auto, Prompts.empty(), (), np.packbits(base),
                      score=initial.score if initial is not None else 0.0)
        self._steps: list[_Step] = [first]
        self._index = 0
        self._cached: Optional[tuple[int, np.ndarray]] = None

    # -- queries ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.photo.pixels.shape[:2]

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._steps) - 1

    @property
    def edited(self) -> bool:
        return self._current.op != "initial"

    @property
    def clicks(self) -> list[tuple[float, float, bool]]:
        u = self._current.user
        return [(float(x), float(y), bool(lab)) for (x, y), lab in zip(u.points, u.labels)]

    @property
    def box(self) -> Optional[tuple[float, float, float, float]]:
        b = self._current.user.box
        return None if b is None else tuple(float(v) for v in b)

    @property
    def mask(self) -> np.ndarray:
        """The mask as shown now (base plus brush strokes), full resolution, bool. Do not modify."""
        if self._cached is None or self._cached[0] != id(self._current):
            step = self._current
            h, w = self.shape
            base = np.unpackbits(step.base_bits, count=h * w).reshape(h, w).astype(bool)
            self._cached = (id(step), _paint(base, step.strokes))
        return self._cached[1]

    # -- edits -------------------------------------------------------------------------------------
    def prepare(self, cancel: Optional[CancelToken] = None) -> None:
        """Do the backend's expensive part now (SAM: the embedding), e.g. on a worker thread."""
        self.backend.prepare(cancel)

    def add_click(self, x: float, y: float, positive: bool = True) -> np.ndarray:
        """A product (positive) or background (negative) click; returns the new mask."""
        self._check_xy(x, y)
        step = self._current
        user = Prompts(np.vstack([step.user.points, [[x, y]]]).astype(np.float32),
                       np.append(step.user.labels, int(positive)).astype(np.int32), step.user.box)
        auto = _override(step.auto, x, y, positive, OVERRIDE_RADIUS * float(np.hypot(*self.shape)))
        # SAM can answer a background point with a larger mask: a remove point only ever removes
        return self._run("click", replace(step, auto=auto, user=user), only_remove=not positive)

    def set_box(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Replace the box prompt (corners in any order); returns the new mask."""
        h, w = self.shape
        xa, xb = sorted((float(np.clip(x0, 0, w - 1)), float(np.clip(x1, 0, w - 1))))
        ya, yb = sorted((float(np.clip(y0, 0, h - 1)), float(np.clip(y1, 0, h - 1))))
        if xb - xa < 1 or yb - ya < 1:
            raise ValueError("the box is empty: drag a rectangle at least 2 px wide and tall")
        step = self._current
        user = Prompts(step.user.points, step.user.labels, np.array([xa, ya, xb, yb], np.float32))
        return self._run("box", replace(step, user=user))

    def clear_box(self) -> np.ndarray:
        step = self._current
        if step.user.box is None:
            return self.mask
        return self._run("box", replace(step, user=Prompts(step.user.points, step.user.labels, None)))

    def brush(self, points: Sequence[tuple[float, float]], radius: float, erase: bool = False) -> np.ndarray:
        """Paint (or with ``erase``, remove) a stroke through ``points``; returns the new mask."""
        if len(points) == 0 or radius <= 0:
            raise ValueError("a brush stroke needs at least one point and a positive radius")
        stroke = Stroke(tuple((float(x), float(y)) for x, y in points), float(radius), not erase)
        step = self._current
        return self._push(replace(step, op="erase" if erase else "brush", strokes=step.strokes + (stroke,)))

    def undo(self) -> bool:
        if not self.can_undo:
            return False
        self._index -= 1
        return True

    def redo(self) -> bool:
        if not self.can_redo:
            return False
        self._index += 1
        return True

    def reset(self) -> np.ndarray:
        """Back to the initial mask (undoable)."""
        return self._push(replace(self._steps[0], op="reset"))  # step 0 is never trimmed

    def result(self, edge: str = "auto") -> MaskResult:
        """The current mask as a ``MaskResult`` (source "edited" once anything was changed)."""
        step = self._current
        if step.op in ("initial", "reset") and self.initial is not None:
            return self.initial
        mask = self.mask.copy()
        alpha = soft_alpha(mask, self.photo.rgb8, method=edge)  # type: ignore[arg-type]
        score = step.score if np.isfinite(step.score) else (self.initial.score if self.initial else 0.5)
        details = {
            "backend": self.backend.name, "from": self.initial.source if self.initial else None,
            "clicks": len(step.user.points), "strokes": len(step.strokes),
            "prompts": _merged(step).to_json(), **step.info,
        }
        if not np.isfinite(step.score):
            details["score_basis"] = "initial mask (GrabCut gives no score)"
        return MaskResult(mask, alpha, score, "edited" if step.op not in ("initial", "reset") else "empty", details)

    # -- internals -------------------------------------------------------------------------------
    @property
    def _current(self) -> _Step:
        return self._steps[self._index]

    def _check_xy(self, x: float, y: float) -> None:
        h, w = self.shape
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"click ({x:.0f}, {y:.0f}) is outside the {w} x {h} photo")

    def _run(self, op: str, step: _Step, only_remove: bool = False) -> np.ndarray:
        prompts = _merged(step)
        if len(prompts.points) == 0 and prompts.box is None:
            h, w = self.shape
            base = self.initial.mask if self.initial is not None else np.zeros((h, w), bool)
            return self._push(replace(step, op=op, base_bits=np.packbits(base), feedback=None, info={}))
        previous = self._current
        base_now = np.unpackbits(previous.base_bits, count=int(np.prod(self.shape))).reshape(self.shape).astype(bool)
        mask, feedback, score, info = self.backend.predict(prompts, previous.feedback, base_now)
        if only_remove:
            mask = mask & base_now
        return self._push(replace(step, op=op, base_bits=np.packbits(mask), feedback=feedback, score=score,
                                  info=info))

    def _push(self, step: _Step) -> np.ndarray:
        del self._steps[self._index + 1:]  # a new edit drops the redo branch
        self._steps.append(step)
        if len(self._steps) > MAX_HISTORY:  # keep the initial step: reset must still work
            del self._steps[1]
        self._index = len(self._steps) - 1
        return self.mask


def _merged(step: _Step) -> Prompts:
    points = np.vstack([step.auto.points, step.user.points]).astype(np.float32)
    labels = np.concatenate([step.auto.labels, step.user.labels]).astype(np.int32)
    box = step.user.box if step.user.box is not None else step.auto.box
    return Prompts(points, labels, box)


def _override(auto: Prompts, x: float, y: float, positive: bool, radius: float) -> Prompts:
    if len(auto.points) == 0:
        return auto
    near = np.hypot(auto.points[:, 0] - x, auto.points[:, 1] - y) <= radius
    drop = near & (auto.labels != int(positive))
    if not drop.any():
        return auto
    return Prompts(auto.points[~drop], auto.labels[~drop], auto.box)


def _paint(base: np.ndarray, strokes: tuple[Stroke, ...]) -> np.ndarray:
    if not strokes:
        return base
    import cv2

    canvas = base.astype(np.uint8)
    for stroke in strokes:
        value = 1 if stroke.add else 0
        r = max(1, int(round(stroke.radius)))
        pts = [(int(round(x)), int(round(y))) for x, y in stroke.points]
        for p in pts:
            cv2.circle(canvas, p, r, value, -1)
        for p, q in zip(pts, pts[1:]):
            cv2.line(canvas, p, q, value, thickness=2 * r + 1)
    return canvas.astype(bool)
