"""Models loaded once per process: one entry per (model folder, device, dtype), shared by engines.

``si2`` falling back to the paper's folder and ``si2-controlnet`` then share one UNet, VAE and
text encoder in memory; the ControlNet is added to the entry only when an engine needs it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from core.generation.components import load_components, load_controlnet
from core.generation.pipeline import BackgroundPipeline
from core.generation.placement import place, remove_hooks


class LoadedModels:
    def __init__(self, folder: Path, device: Any, dtype: Any, offload: bool | None = None) -> None:
        self.folder, self.device, self.dtype, self._offload = folder, device, dtype, offload
        self.components = load_components(folder, with_controlnet=False, dtype=dtype)
        self.hooks = place(self.components, device, dtype, offload)
        self.pipeline = BackgroundPipeline(self.components, device, dtype)
        self._lock = threading.Lock()

    @property
    def offloaded(self) -> bool:
        return bool(self.hooks)

    def ensure_controlnet(self) -> None:
        with self._lock:
            if self.components.controlnet is not None:
                return
            self.components.controlnet = load_controlnet(self.folder, dtype=self.dtype)
            remove_hooks(self.hooks)  # re-chain offload hooks with the ControlNet in its place
            self.hooks = place(self.components, self.device, self.dtype, self._offload)


_ENTRIES: dict[tuple, LoadedModels] = {}
_LOCK = threading.Lock()


def get_loaded(folder: Path, device: Any, dtype: Any) -> LoadedModels:
    key = (str(Path(folder).resolve()), str(device), str(dtype))
    with _LOCK:  # held while loading: two threads asking at once must not load twice
        if key not in _ENTRIES:
            _ENTRIES[key] = LoadedModels(Path(folder), device, dtype)
        return _ENTRIES[key]


def get_loaded_sd2(folder: Path, device: Any, dtype: Any) -> Any:
    """SD2 base + 4-channel ControlNet from ``folder`` (the sd2-controlnet engine), kept like the rest."""
    from core.generation.sd2_components import LoadedSD2ControlNet

    key = ("sd2-controlnet", str(Path(folder).resolve()), str(device), str(dtype))
    with _LOCK:
        if key not in _ENTRIES:
            _ENTRIES[key] = LoadedSD2ControlNet(Path(folder), device, dtype)
        return _ENTRIES[key]


def unload_all() -> None:
    """Drop every loaded model (tests; the GUI after the user switches models folder)."""
    with _LOCK:
        _ENTRIES.clear()
