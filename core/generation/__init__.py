"""Backgrounds behind product photos: the paper's SI2 + ControlNet, SD2 inpainting, and plain ones.

Light to import: torch and diffusers load only when a generative engine first renders.
"""

from core.generation.settings import GenerationSettings

__all__ = ["GenerationSettings"]
