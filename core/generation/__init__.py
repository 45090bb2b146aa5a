"""Backgrounds behind product photos: the paper's SI2 + ControlNet, SD2 inpainting, and plain ones.

Engines come from a ``packshot.core.runtime.Runtime``, which owns the models they load. Light to import: torch and diffusers load only when a generative engine first renders.

    engine = engine_for(Runtime(models_dir), "si2-controlnet")  # or "si2", "white", "blur", ...
    photo, mask_result = frame_photo(photo, mask_result, "square-2000")  # "original": unchanged
    backgrounds = engine.render(photo, mask_result, GenerationSettings(prompt=...), progress, cancel)
    final = composite(photo, mask_result.alpha, backgrounds[0], shadow=Shadow())

Framing first makes the preset's padding part of what the engine renders (generated, painted or
blurred); ``apply_preset`` scales an image already made and can only repeat its edge pixels.
"""

from packshot.core.generation.composite import composite
from packshot.core.generation.engines import ENGINE_NAMES, BackgroundEngine
from packshot.core.generation.presets import PRESETS, OutputPreset, apply_preset, frame_photo, get_preset
from packshot.core.generation.settings import SCHEDULERS, GenerationSettings
from packshot.core.generation.shadow import Shadow

__all__ = ["BackgroundEngine", "ENGINE_NAMES", "GenerationSettings", "OutputPreset", "PRESETS", "SCHEDULERS",
           "Shadow", "apply_preset", "composite", "frame_photo", "get_preset"]
