"""The runtime: the model store and everything loaded from it, in one object its maker passes down.

The CLI makes one per command run, the app one per main window, a training process or a Ray actor
its own. Jobs, engines, maskers, priors and re-segmenters are handed the runtime and ask it for
their models, so two runtimes never share a loaded model and ``unload()`` frees them all (the
app calls it when the user switches models folder). Nothing here is a module-level registry:
like a diffusers pipeline owning its modules, the runtime owns what it loaded.

Each kind of loaded thing sits in its own ``LoadOnce`` cache: diffusion components per (folder,
device, dtype), engines per (name, device, model), SAM per (checkpoint, device), ONNX sessions
per (file, size, mtime, providers), tiny decoders per (folder, device, dtype), upscalers per (file,
size, mtime, device).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, Optional, TypeVar

if TYPE_CHECKING:
    from core.generation.engines.base import BackgroundEngine
    from core.generation.loaded import LoadedModels
    from core.masking.sam_models import LoadedSam
    from core.models.store import ModelStore

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


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
            from core.models.store import ModelStore

            store = ModelStore(models_dir, offline=offline, download_dir=download_dir, use_hf_cache=use_hf_cache)
        elif models_dir is not None or download_dir is not None or offline is not None:
            raise ValueError("Runtime: give either a store or where its models are, not both.")
        self.store: ModelStore = store
        self._diffusion: LoadOnce[tuple, LoadedModels] = LoadOnce("diffusion models")
        self._engines: LoadOnce[tuple, BackgroundEngine] = LoadOnce("engines")
        self._sam: LoadOnce[tuple, LoadedSam] = LoadOnce("SAM models")
        self._onnx: LoadOnce[tuple, Any] = LoadOnce("ONNX sessions")
        self._tiny_decoders: LoadOnce[tuple, Any] = LoadOnce("tiny decoders")
        self._sd2: LoadOnce[tuple, Any] = LoadOnce("SD2 ControlNet models")
        self._klein: LoadOnce[tuple, Any] = LoadOnce("FLUX.2 klein models")
        self._upscalers: LoadOnce[tuple, Any] = LoadOnce("upscalers")

    def __repr__(self) -> str:
        return f"Runtime(models_dir={self.store.models_dir}, loaded={self.loaded()})"

    @property
    def _caches(self) -> tuple[LoadOnce, ...]:
        return (self._diffusion, self._engines, self._sam, self._onnx, self._tiny_decoders, self._sd2, self._upscalers,
                self._klein)

    def loaded(self) -> dict[str, int]:
        """How many things of each kind are loaded (for logs, tests and the app's status)."""
        return {cache.what: len(cache) for cache in self._caches}

    def unload(self) -> None:
        """Drop everything this runtime loaded; the next request loads again (from the same store)."""
        dropped = {cache.what: cache.clear() for cache in self._caches}
        log.info("Unloaded %s", ", ".join(f"{n} {what}" for what, n in dropped.items() if n) or "nothing")
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()  # give the freed memory back to other processes
        except ImportError:
            pass

    # -- background engines -----------------------------------------------------------------------
    def engine(self, name: str, device: str = "auto", model: Optional[str] = None) -> BackgroundEngine:
        """The engine called ``name`` (one per name, device and model); generative ones load lazily.

        ``model``: for ``si2-controlnet``, the id of another model laid out like the paper's (e.g.
        one fine-tuned with ``packshot train``); None means the paper's weights.
        """
        from core.generation.engines import ENGINE_NAMES, GENERATIVE, build_engine

        if name not in ENGINE_NAMES:
            raise ValueError(f"Unknown background engine '{name}': choose one of {', '.join(ENGINE_NAMES)}.")
        key = (name, device, model) if name in GENERATIVE else (name,)
        return self._engines.get(key, lambda: build_engine(name, self, device, model))

    # -- what the engines load --------------------------------------------------------------------
    def diffusion(self, folder: Path, device: Any, dtype: Any) -> LoadedModels:
        """UNet, VAE and text encoder of the diffusers folder ``folder`` on ``device`` (ControlNet added
        by ``ensure_controlnet``): ``si2`` on the paper's folder and ``si2-controlnet`` share them."""
        from core.generation import loaded

        key = (str(Path(folder).resolve()), str(device), str(dtype))
        return self._diffusion.get(key, lambda: loaded.LoadedModels(Path(folder), device, dtype))

    def sd2_controlnet(self, folder: Path, device: Any, dtype: Any) -> Any:
        """SD2 base + the 4-channel cut-out ControlNet of ``folder`` (the ``sd2-controlnet`` ablation)."""
        from core.generation.sd2_components import LoadedSD2ControlNet

        key = (str(Path(folder).resolve()), str(device), str(dtype))
        return self._sd2.get(key, lambda: LoadedSD2ControlNet(Path(folder), device, dtype))

    def flux2_klein(self, folder: Path, plan: Any) -> Any:
        """The FLUX.2 [klein] pipeline of ``folder`` placed by ``plan`` (``core.generation.engines.flux2_klein``)."""
        from core.generation.engines.flux2_klein import LoadedKlein

        key = (str(Path(folder).resolve()), str(plan.device), str(plan.dtype), plan.offload)
        return self._klein.get(key, lambda: LoadedKlein(Path(folder), plan))

    def tiny_decoder(self, device: Any, dtype: Any) -> Optional[Any]:
        """TAESD for previews when its weights are in the store, else None (previews use the full VAE)."""
        from core.errors import ModelMissingError
        from core.generation import preview

        try:
            folder = self.store.path(preview.TINY_DECODER_MODEL)
        except (ModelMissingError, KeyError):
            return None
        key = (str(Path(folder).resolve()), str(device), str(dtype))
        return self._tiny_decoders.get(key, lambda: preview.load_tiny_decoder(folder, device, dtype))

    def upscaler(self, model_id: str, device: Any) -> Any:
        """The learned background upscaler ``model_id`` on ``device`` (``core.generation.upscale``), one per
        weights file (its size and mtime too) and device."""
        from core.generation import upscale

        path = upscale.weights_path(self.store, model_id)  # ModelMissingError naming the download
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, str(device))
        return self._upscalers.get(
            key, lambda: upscale.load_upscaler(path, model_id, device, upscale.weights_sha256(path)))

    # -- what the maskers load --------------------------------------------------------------------
    def sam(self, variant: str = "vit_b", device: str = "auto") -> LoadedSam:
        """SAM ``variant`` from the store on ``device`` (ModelMissingError naming the fix when absent)."""
        from core.devices import pick_device
        from core.masking import sam_models
        from core.models.integrity import weights_file

        model_id = sam_models.model_id_for(variant)
        checkpoint = weights_file(self.store.spec(model_id), self.store.path(model_id))
        torch_device = pick_device(device)
        key = (str(checkpoint.resolve()), str(torch_device))
        return self._sam.get(key, lambda: sam_models.load_sam_checkpoint(checkpoint, model_id, torch_device))

    def onnx_session(self, path: Path, device: str = "auto", model_id: str = "") -> Any:
        """One ``onnxruntime.InferenceSession`` per model file (its size and mtime too) and device."""
        from core.masking import prior_learned

        path = Path(path).resolve()
        stat = path.stat()
        providers = prior_learned.providers_for(device)
        key = (str(path), stat.st_size, stat.st_mtime_ns, repr(providers))
        return self._onnx.get(key, lambda: prior_learned.open_session(path, providers, model_id))


def runtime_or_private(runtime: Optional[Runtime], models_dir: Optional[Path | str] = None) -> Runtime:
    """``runtime``, or a fresh one of the caller's own (never a hidden shared one) when it is None."""
    return runtime if runtime is not None else Runtime(models_dir)
