"""The runtime: the model store and everything loaded from it, in one object its maker passes down.

The CLI makes one per command run, the app one per main window, a training process or a Ray actor
its own. Jobs, engines, maskers, priors and re-segmenters are handed the runtime (a required
argument: nothing makes a hidden one) and ask it for their models, so two runtimes never share a
loaded model and ``unload()`` frees them all (the app calls it when the user switches models
folder). Nothing here is a module-level registry: like a diffusers pipeline owning its modules,
the runtime owns what it loaded.

The runtime only manages lifetimes: ``cached(kind, key, load)`` keeps one value per (kind, key).
How each kind is keyed and loaded lives beside its domain (engines in
``packshot.core.generation.engines.engine_for``, diffusion components in ``packshot.core.generation.loaded``, SAM in
``packshot.core.masking.sam_models``, ONNX sessions in ``packshot.core.masking.prior_learned``, tiny decoders in
``packshot.core.generation.preview``, upscalers in ``packshot.core.generation.upscale``, ...), so this module imports
no domain module and no import circle goes through it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Generic, Optional, TypeVar

if TYPE_CHECKING:
    from packshot.core.models.store import ModelStore

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


class LoadOnce(Generic[K, V]):
    """Values by key, each made once however many threads ask at the same time.

    A lock per key is held while its value loads, so two threads asking for the same model load
    it once and a thread asking for another model is not held up. ``clear()`` during a load drops
    the value being loaded too: the caller still gets it, the cache does not keep it.
    """

    def __init__(self, what: str) -> None:
        self.what = what  # for logs: "SAM models", "engines", ...
        self._values: dict[K, V] = {}
        self._loading: dict[K, threading.Lock] = {}
        self._guard = threading.Lock()  # protects the two dicts, never held while loading
        self._generation = 0  # bumped by clear(): a load begun before it is not kept

    def get(self, key: K, load: Callable[[], V]) -> V:
        with self._guard:
            if key in self._values:
                return self._values[key]
            lock = self._loading.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._values:  # loaded by the thread we waited for
                    return self._values[key]
                generation = self._generation
            value = load()
            with self._guard:
                if generation == self._generation:
                    self._values[key] = value
                if self._loading.get(key) is lock:
                    del self._loading[key]
            return value

    def values(self) -> list[V]:
        with self._guard:
            return list(self._values.values())

    def clear(self) -> int:
        """Forget every value; returns how many there were."""
        with self._guard:
            count = len(self._values)
            self._values.clear()
            self._generation += 1
            return count

    def __len__(self) -> int:
        with self._guard:
            return len(self._values)


class Runtime:
    """The model store of one models folder and every model loaded from it, for one process.

    ``Runtime(models_dir, offline=..., download_dir=..., use_hf_cache=...)`` builds the store;
    ``Runtime(store=store)`` wraps a given one.
    """

    def __init__(self, models_dir: Optional[Path | str] = None, *, offline: Optional[bool] = None,
                 download_dir: Optional[Path | str] = None, use_hf_cache: bool = True,
                 store: Optional[ModelStore] = None) -> None:
        if store is None:
            from packshot.core.models.store import ModelStore  # the store is the runtime's own, not a domain

            store = ModelStore(models_dir, offline=offline, download_dir=download_dir, use_hf_cache=use_hf_cache)
        elif models_dir is not None or download_dir is not None or offline is not None:
            raise ValueError("Runtime: give either a store or where its models are, not both.")
        self.store: ModelStore = store
        self._caches: dict[str, LoadOnce] = {}
        self._caches_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"Runtime(models_dir={self.store.models_dir}, loaded={self.loaded()})"

    def cached(self, kind: str, key: Hashable, load: Callable[[], T]) -> T:
        """The ``kind`` value for ``key``, made by ``load()`` once per runtime however many threads ask at
        the same time (a lock per key: a slow load does not hold up another key or kind)."""
        with self._caches_guard:
            cache = self._caches.get(kind)
            if cache is None:
                cache = self._caches[kind] = LoadOnce(kind)
        return cache.get(key, load)

    def loaded(self) -> dict[str, int]:
        """How many things of each kind are loaded (for logs, tests and the app's status)."""
        with self._caches_guard:
            caches = list(self._caches.values())
        return {cache.what: len(cache) for cache in caches}

    def unload(self) -> None:
        """Drop everything this runtime loaded; the next request loads again (from the same store)."""
        with self._caches_guard:
            caches = list(self._caches.values())
        dropped = {cache.what: cache.clear() for cache in caches}
        log.info("Unloaded %s", ", ".join(f"{n} {what}" for what, n in dropped.items() if n) or "nothing")
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()  # give the freed memory back to other processes
        except ImportError:
            pass
