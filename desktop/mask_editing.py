"""Mask review work done off the GUI thread (no Qt): open a photo, edit its mask, save it.

One ``MaskEditor`` lives on the review's serial worker thread and holds the masker (SAM or the
classic fallback, built once) and the ``packshot.core.masking`` session of the photo under review. Each
public method is one unit of work the panel queues; all return plain data for the GUI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from packshot.core.app_api import resize_mask
from packshot.core.progress import CancelToken
from packshot.desktop.gui_jobs import mask_origin, save_mask

if TYPE_CHECKING:
    from packshot.desktop.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class OpenedPhoto:
    path: Path
    display: np.ndarray  # H x W x 3 uint8 at display size
    full_size: tuple[int, int]
    mask: np.ndarray  # bool, display size (resized on the worker: the GUI thread only paints)
    labels: np.ndarray  # overlay labels for ``mask`` (see ``mask_labels``)
    score: Optional[float]
    state: str  # pending | auto | reviewed | edited | rejected
    source: str
    masker: str


@dataclass
class EditResult:
    path: Path
    mask: np.ndarray  # bool, display size
    labels: np.ndarray
    score: Optional[float]
    can_undo: bool
    can_redo: bool
    edited: bool  # False once undo (or redo) is back at the mask the photo opened with


class MaskEditor:
    def __init__(self, out_dir: Path, mask_settings: Any, workspace: Workspace) -> None:
        """``mask_settings``: ``packshot.desktop.job_settings.mask_settings`` (the batch's masker choices);
        ``workspace``: the main window's (project store, mask context and the models behind it)."""
        self.out_dir = Path(out_dir)
        self.mask_settings = mask_settings
        self.workspace = workspace
        self.session: Any = None
        self.path: Optional[Path] = None
        self.photo: Any = None
        self.edited = False
        self.display_size = (1, 1)

    @property
    def context(self) -> Any:
        return self.workspace.mask_context(self.mask_settings)

    @property
    def masker(self) -> Any:
        return self.context.masker

    # -- units of work (worker thread) ----------------------------------------------------------
    def open(self, path: Path, display_max: int, cancel: Optional[CancelToken] = None) -> OpenedPhoto:
        from packshot.core.images import load_photo
        from packshot.core.jobs import load_mask_file

        store = self.workspace.project_store(self.out_dir)
        photo = load_photo(path)
        record = store.photo(path)
        state = "pending"
        if record is not None and record.mask_path is not None and record.mask_path.is_file():
            initial = load_mask_file(record.mask_path, photo.size, source=record.mask_source or "file")
            initial.score = record.mask_score if record.mask_score is not None else initial.score
            state = record.mask_state or "auto"
        else:  # core's MaskJob, as the batch masks: stored with score, origin and doubt for the batch to reuse
            from packshot.core.jobs import MaskJob

            initial = MaskJob([path], self.context, project=store, keep_empty=True).mask_photo(
                path, photo=photo, cancel=cancel).mask
            state = "auto"
        if record is not None and record.rejected:
            state = "rejected"
        self.session = self.masker.session(photo, initial=initial)
        self.session.prepare(cancel)  # SAM: the embedding now, so the first click is fast
        self.path, self.photo, self.edited = Path(path), photo, False
        display = _display_rgb(photo.rgb8, display_max)
        self.display_size = (display.shape[1], display.shape[0])
        shown = resize_mask(initial.mask, self.display_size)
        return OpenedPhoto(Path(path), display, photo.size, shown, mask_labels(shown), initial.score, state, initial.source, getattr(self.masker, "name", "masker"))

    def click(self, path: Path, x: float, y: float, positive: bool) -> EditResult:
        return self._edit(path, "click", x, y, positive)

    def box(self, path: Path, x0: float, y0: float, x1: float, y1: float) -> EditResult:
        return self._edit(path, "box", x0, y0, x1, y1)

    def stroke(self, path: Path, points: list[tuple[float, float]], radius: float, add: bool) -> EditResult:
        return self._edit(path, "stroke", points, radius, add)

    def undo(self, path: Path) -> EditResult:
        return self._edit(path, "undo")

    def redo(self, path: Path) -> EditResult:
        return self._edit(path, "redo")

    def reset(self, path: Path) -> EditResult:
        return self._edit(path, "reset")

    def accept(self, path: Path) -> Path:
        """Save the session's mask into the project (``edited`` if changed, else ``reviewed``)."""
        self._require(path)
        store = self.workspace.project_store(self.out_dir)
        result = self.session.result()
        state = "edited" if self.edited else "reviewed"
        save_mask(store, path, result, state, mask_origin(self.context, path, reviewed=True))
        record = store.photo(path)
        if record is not None and record.rejected:  # accepting a mask takes its rejection back
            store.set_rejected(record.id, False)
        return Path(path)

    def precompute(self, paths: list[Path], cancel: Optional[CancelToken] = None) -> int:
        """Embeddings for the next photos (SAM only; the classic masker has nothing to prepare)."""
        cache = getattr(self.masker, "cache", None)
        if cache is None:
            return 0
        return cache.precompute(paths, cancel)

    # -- helpers --------------------------------------------------------------------------------
    def _require(self, path: Path) -> None:
        if self.session is None or self.path != Path(path):
            from packshot.core.errors import PackshotError

            raise PackshotError(f"{Path(path).name} is not open for review any more.")

    def _edit(self, path: Path, op: str, *args: Any) -> EditResult:
        self._require(path)
        s = self.session
        if op == "click":
            x, y, positive = args
            s.add_click(x, y, positive)
        elif op == "box":
            s.set_box(*args)
        elif op == "stroke":
            points, radius, add = args
            s.brush(points, radius, erase=not add)
        elif op == "undo":
            s.undo()
        elif op == "redo":
            s.redo()
        elif op == "reset":
            s.reset()
        self.edited = bool(s.edited)
        result = s.result()
        shown = resize_mask(result.mask, self.display_size)
        return EditResult(Path(path), shown, mask_labels(shown), result.score, s.can_undo, s.can_redo,
                          self.edited)


def _display_rgb(rgb: np.ndarray, limit: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= limit:
        return np.ascontiguousarray(rgb)
    from PIL import Image

    scale = limit / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def mask_labels(mask: np.ndarray) -> np.ndarray:
    """uint8 labels for the overlay: 0 outside, 1 inside, 2 on the (two-pixel) outline."""
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    edge = mask & ~inner
    thick = edge.copy()  # two pixels wide so it stays visible when zoomed out
    thick[1:, :] |= edge[:-1, :]
    thick[:, 1:] |= edge[:, :-1]
    labels = mask.astype(np.uint8)
    labels[thick] = 2
    return labels
