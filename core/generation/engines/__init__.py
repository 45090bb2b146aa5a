"""Background engines by name. ``engine_for(runtime, name, device, model)`` keeps one per (name,
device, model) in the ``packshot.core.runtime.Runtime`` it is handed; generative engines ask that runtime
for their models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from packshot.core.generation.engines.base import BackgroundEngine

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

GENERATIVE = ("si2-controlnet", "si2", "sd2-controlnet", "flux2-klein")
PLAIN = ("white", "color", "gradient", "blur", "image")
ENGINE_NAMES = GENERATIVE + PLAIN


def engine_for(runtime: Runtime, name: str, device: str = "auto", model: Optional[str] = None) -> BackgroundEngine:
    """The engine called ``name`` in ``runtime`` (one per name, device and model; plain engines one per
    name); generative ones load their weights lazily.

    ``model``: for ``si2-controlnet``, the id of another model laid out like the paper's (e.g. one
    fine-tuned with ``packshot train``); None means the paper's weights.
    """
    if name not in ENGINE_NAMES:
        raise ValueError(f"Unknown background engine '{name}': choose one of {', '.join(ENGINE_NAMES)}.")
    key = (name, device, model) if name in GENERATIVE else (name,)
    return runtime.cached("engines", key, lambda: build_engine(name, runtime, device, model))


def build_engine(name: str, runtime: Runtime, device: str, model: Optional[str]) -> BackgroundEngine:
    """A new engine called ``name`` (use ``engine_for``: it keeps one per name, device and model)."""
    if name == "sd2-controlnet":  # the paper's ablation: SD2 base + a 4-channel ControlNet the user trained
        from packshot.core.generation.engines.sd2_controlnet import SD2ControlNetEngine

        return SD2ControlNetEngine(runtime, device, model_id=model)
    if name == "flux2-klein":  # FLUX.2 [klein] inpainting, beside the paper's engine (never picked by auto)
        from packshot.core.generation.engines.flux2_klein import Flux2KleinEngine

        return Flux2KleinEngine(runtime, device, model_id=model)
    if name in GENERATIVE:
        from packshot.core.generation.engines.diffusion import DiffusionEngine

        return DiffusionEngine(name, runtime, device, model_id=model)
    if name == "blur":
        from packshot.core.generation.engines.blur import BlurEngine

        return BlurEngine()
    if name == "image":
        from packshot.core.generation.engines.image import ImageEngine

        return ImageEngine()
    from packshot.core.generation.engines.plain import ColorEngine, GradientEngine, WhiteEngine

    return {"white": WhiteEngine, "color": ColorEngine, "gradient": GradientEngine}[name]()


__all__ = ["BackgroundEngine", "ENGINE_NAMES", "GENERATIVE", "build_engine", "engine_for"]
