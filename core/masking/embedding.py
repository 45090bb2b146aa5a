"""SAM image embeddings: computed once per photo, kept in a small LRU cache, precomputable.

The encoder is the expensive part of SAM (seconds on a CPU); the prompt decoder is cheap
(milliseconds). So a photo is encoded once, at model resolution (long side 1024), and every
click reuses that embedding through a ``SamPredictor`` restored from the cache.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from packshot.core.errors import Cancelled
from packshot.core.images import Photo, load_photo
from packshot.core.masking.sam_models import LoadedSam
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check, no_progress

log = logging.getLogger(__name__)


@dataclass
class Embedding:
    """One photo's SAM image embedding and the geometry needed to map prompts and masks."""

    key: str
    features: Any  # torch.Tensor 1 x C x 64 x 64
    work_size: tuple[int, int]  # (h, w) of the image the encoder saw (long side = model size)
    photo_size: tuple[int, int]  # (h, w) of the full-resolution photo
    seconds: float


def photo_key(photo: Photo) -> str:
    """A stable identity for a photo's pixels: a hash of its 8-bit content and shape.

    Content, not path: the GUI may load a photo by a different path spelling than the look-ahead
    did, and an edited file under the same name must not reuse a stale embedding. Hashing 24 MP
    takes tens of milliseconds, once per ``get``.
    """
    px = np.ascontiguousarray(photo.rgb8)
    digest = hashlib.blake2b(px.data, digest_size=16)
    digest.update(f"{px.shape}".encode())
    return digest.hexdigest()


def work_image(rgb8: np.ndarray, side: int) -> np.ndarray:
    """The photo resized so its long side is ``side`` (SAM's own ResizeLongestSide)."""
    from segment_anything.utils.transforms import ResizeLongestSide

    return ResizeLongestSide(side).apply_image(np.ascontiguousarray(rgb8))


class _CancelHooks:
    """Lets a cancel token interrupt the encoder between transformer blocks (per thread)."""

    _local = threading.local()
    _lock = threading.Lock()

    @classmethod
    def install(cls, encoder: Any) -> None:
        with cls._lock:
            if getattr(encoder, "_packshot_cancel_hooks", False):
                return
            for block in encoder.blocks:
                block.register_forward_pre_hook(cls._hook)
            encoder._packshot_cancel_hooks = True

    @classmethod
    def _hook(cls, _module: Any, _inputs: Any) -> None:
        check(getattr(cls._local, "token", None))

    @classmethod
    def set(cls, token: Optional[CancelToken]) -> None:
        cls._local.token = token


def compute_embedding(sam: LoadedSam, photo: Photo, cancel: Optional[CancelToken] = None) -> Embedding:
    """Run the image encoder once on ``photo`` (cancellable between encoder blocks)."""
    import torch
    from segment_anything import SamPredictor

    check(cancel)
    rgb = photo.rgb8
    start = time.perf_counter()
    work = work_image(rgb, sam.arch.image_size)
    predictor = SamPredictor(sam.model)
    _CancelHooks.install(sam.model.image_encoder)
    _CancelHooks.set(cancel)
    try:
        with torch.inference_mode():
            predictor.set_image(work)
    finally:
        _CancelHooks.set(None)
    return Embedding(photo_key(photo), predictor.features, work.shape[:2], rgb.shape[:2],
                     time.perf_counter() - start)


def predictor_for(sam: LoadedSam, embedding: Embedding) -> Any:
    """A ``SamPredictor`` whose image is already set from ``embedding`` (no encoder run)."""
    from segment_anything import SamPredictor

    predictor = SamPredictor(sam.model)
    # The same four fields SamPredictor.set_torch_image fills after running the encoder.
    predictor.features = embedding.features
    predictor.original_size = embedding.work_size
    predictor.input_size = embedding.work_size
    predictor.is_image_set = True
    return predictor


PhotoLike = Union[Photo, Path, str]


class EmbeddingCache:
    """Thread-safe LRU of SAM embeddings; one encoder run per photo even under concurrent asks.

    ``get`` serves the GUI thread (computes on a miss); ``precompute`` is meant for a worker
    thread that prepares the next photos while the user reviews the current one.
    """

    def __init__(self, sam: LoadedSam, capacity: int = 8) -> None:
        if capacity < 1:
            raise ValueError("EmbeddingCache capacity must be at least 1")
        self.sam = sam
        self.capacity = capacity
        self._items: OrderedDict[str, Embedding] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.encoder_runs = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, photo: Photo) -> bool:
        with self._lock:
            return photo_key(photo) in self._items

    def keys(self) -> list[str]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def get(self, photo: Photo, cancel: Optional[CancelToken] = None) -> Embedding:
        """The photo's embedding, computing it (once) if not cached."""
        return self._get(photo, cancel)[0]

    def _get(self, photo: Photo, cancel: Optional[CancelToken]) -> tuple[Embedding, bool]:
        key = photo_key(photo)
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return self._items[key], False
                event = self._pending.get(key)
                if event is None:  # we compute it; others wait on the event
                    event = self._pending[key] = threading.Event()
                    self.misses += 1
                    break
            event.wait()  # another thread is encoding this photo; then look again
            check(cancel)
        try:
            embedding = compute_embedding(self.sam, photo, cancel)
            with self._lock:
                self.encoder_runs += 1
                self._items[key] = embedding
                self._items.move_to_end(key)
                while len(self._items) > self.capacity:
                    evicted, _ = self._items.popitem(last=False)
                    log.debug("embedding cache evicted %s", evicted)
            return embedding, True
        finally:
            with self._lock:
                self._pending.pop(key, None)
            event.set()

    def precompute(self, photos: Iterable[PhotoLike], cancel: Optional[CancelToken] = None,
                   progress: ProgressCallback = no_progress) -> int:
        """Encode ``photos`` (Photo objects or paths) not yet cached; returns how many were encoded.

        Stops early (without error) when ``cancel`` is set; a photo that cannot be read is
        logged and skipped so one bad file does not stop the look-ahead. Only the last
        ``capacity`` photos can stay cached, so pass the next few, not the whole folder.
        """
        items = list(photos)
        encoded = 0
        for i, item in enumerate(items):
            if cancel is not None and cancel.cancelled:
                break
            try:
                photo = item if isinstance(item, Photo) else load_photo(item)
            except Exception as exc:  # noqa: BLE001 - a bad file must not stop the look-ahead
                log.warning("precompute skipped %s: %s", item, exc)
                continue
            try:
                encoded += int(self._get(photo, cancel)[1])
            except Cancelled:
                break
            progress(Progress("embeddings", i + 1, len(items), str(getattr(photo, "source", "") or "")))
        return encoded
