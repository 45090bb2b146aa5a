"""The diffusion models of one folder on one device: UNet, VAE, text encoder (+ ControlNet on demand).

``diffusion_models(runtime, ...)`` keeps one ``LoadedModels`` per (model folder, device, dtype) in
a ``packshot.core.runtime.Runtime``, shared by its engines: ``si2`` falling back to the paper's folder and ``si2-controlnet`` then share one UNet,
VAE and text encoder in memory; the ControlNet is added only when an engine needs it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packshot.core.generation.components import load_components, load_controlnet
from packshot.core.generation.pipeline import BackgroundPipeline
from packshot.core.generation.placement import place, remove_hooks

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime


def diffusion_models(runtime: Runtime, folder: Path, device: Any, dtype: Any) -> LoadedModels:
    """UNet, VAE and text encoder of the diffusers folder ``folder`` on ``device``, once per ``runtime``
    (ControlNet added by ``ensure_controlnet``): ``si2`` on the paper's folder and ``si2-controlnet``
    share them."""
    key = (str(Path(folder).resolve()), str(device), str(dtype))
    return runtime.cached("diffusion models", key, lambda: LoadedModels(Path(folder), device, dtype))


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
