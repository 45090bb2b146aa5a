"""Background engines by name; one instance per (name, models location, device) per process."""

from __future__ import annotations

import threading
from typing import Any, Optional

from core.generation.engines.base import BackgroundEngine

GENERATIVE = ("si2-controlnet", "si2", "sd2-controlnet")
PLAIN = ("white", "color", "gradient", "blur", "image")
ENGINE_NAMES = GENERATIVE + PLAIN

_ENGINES: dict[tuple, BackgroundEngine] = {}
_LOCK = threading.Lock()


def _build(name: str, store: Any, device: str, model: Optional[str]) -> BackgroundEngine:
    if name == "sd2-controlnet":  # the paper's ablation: SD2 base + a 4-channel ControlNet the user trained
        from core.generation.engines.sd2_controlnet import SD2ControlNetEngine

        return SD2ControlNetEngine(store, device, model_id=model)
    if name in GENERATIVE:
        from core.generation.engines.diffusion import DiffusionEngine

        return DiffusionEngine(name, store, device, model_id=model)
    if name == "blur":
        from core.generation.engines.blur import BlurEngine

        return BlurEngine()
    if name == "image":
        from core.generation.engines.image import ImageEngine

        return ImageEngine()
    from core.generation.engines.plain import ColorEngine, GradientEngine, WhiteEngine

    return {"white": WhiteEngine, "color": ColorEngine, "gradient": GradientEngine}[name]()


def get_engine(name: str, store: Any = None, device: str = "auto", model: Optional[str] = None) -> BackgroundEngine:
    """The engine called ``name``; generative engines need a ``ModelStore`` and load models lazily.

    ``model``: for ``si2-controlnet``, the id of another model laid out like the paper's (e.g. one
    fine-tuned with ``packshot train``); None means the paper's weights.
    """
    if name not in ENGINE_NAMES:
        raise ValueError(f"Unknown background engine '{name}': choose one of {', '.join(ENGINE_NAMES)}.")
    if name in GENERATIVE:
        if store is None:
            raise ValueError(f"The '{name}' engine needs a model store.")
        key = (name, str(getattr(store, "models_dir", None)), str(getattr(store, "download_dir", id(store))),
               device, model if name in ("si2-controlnet", "sd2-controlnet") else None)
    else:
        key = (name,)
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = _build(name, store, device, model)
        return _ENGINES[key]


def clear_engines() -> None:
    with _LOCK:
        _ENGINES.clear()


__all__ = ["BackgroundEngine", "ENGINE_NAMES", "get_engine", "clear_engines"]
