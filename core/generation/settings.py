"""What a caller asks of a background engine: one dataclass, serialisable into a recipe.

Each field carries its help text and command-line flag (``core.options``): ``packshot batch``'s
background options are generated from this class, and ``JobSettings.generation`` is one of these.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Optional

from core.options import Choice, option, plain, to_dict


class Scheduler(Choice):
    UNIPC = "unipc"
    DDIM = "ddim"
    EULER = "euler"
    DPMPP = "dpm++"


SCHEDULERS = Scheduler.values()


class Quality(Choice):
    """``final``: the paper's settings. ``preview``: the same models and seed, less work (core.generation.preview)."""

    PREVIEW = "preview"
    FINAL = "final"


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#f0f0f0', 'f0f0f0' or '240,240,240'."""
    value = text.strip()
    hex_match = re.fullmatch(r"#?([0-9a-fA-F]{6})", value)
    if hex_match:
        raw = hex_match.group(1)
        return int(raw[0:2], 16), int(raw[2:4], 16), int(raw[4:6], 16)
    parts = [p.strip() for p in value.split(",")]
    if len(parts) == 3 and all(p.isdigit() and int(p) <= 255 for p in parts):
        return int(parts[0]), int(parts[1]), int(parts[2])
    raise argparse.ArgumentTypeError(f"'{text}' is not a colour: use #RRGGBB or R,G,B (0-255).")


def parse_gradient(text: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two colours, top then bottom: '#ffffff:#c8c8cd' or '255,255,255:200,200,205'."""
    parts = text.split(":")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"'{text}' is not a gradient: use TOP:BOTTOM, e.g. #ffffff:#c8c8cd.")
    return parse_colour(parts[0]), parse_colour(parts[1])


def parse_positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def parse_non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {value})")
    return value


@dataclass
class GenerationSettings:
    """Settings shared by every engine; engines ignore the fields that do not concern them.

    Defaults are the paper's: 20 UniPC steps, guidance 7.5, ControlNet scale 1.0, 512 x 512
    letterboxed canvas.
    """

    prompt: str = option("", cli=False, flat="", help="the filled prompt of one photo (from the prompt settings)")
    negative_prompt: str = option("", cli=False, flat="", help="the filled negative prompt of one photo")
    steps: int = option(20, parse=parse_positive, help="denoising steps (default 20)")
    guidance: float = option(7.5, help="classifier-free guidance scale (default 7.5)")
    controlnet_scale: float = option(1.0, help="ControlNet conditioning scale (default 1.0)")
    seed: int = option(0, help="seed of the first variant (variant k: seed+k)")
    variants: int = option(1, parse=parse_positive, help="images per photo (default 1; generative engines only)")
    scheduler: Scheduler = option(Scheduler.UNIPC, help="diffusion scheduler (default unipc)")
    resolution: int = option(512, help="generation size (multiple of 8, default 512)")
    quality: Quality = option(Quality.FINAL,
                              help="final (the paper's settings) or preview (same seed, fewer steps, smaller "
                                   "canvas, guidance on the first steps, tiny decoder: under a minute on a "
                                   "laptop CPU); replay a preview with --quality final")
    # Explicit per-variant seeds (replaying a recipe, QC retries); None = seed, seed + 1, ...
    seeds: Optional[tuple[int, ...]] = option(None, cli=False, flat="",
                                              help="explicit per-variant seeds (replay, QC retries, the app)")
    # Non-generative engines
    color: tuple[int, int, int] = option((255, 255, 255), parse=parse_colour, metavar="COLOUR",
                                         help="colour for --engine color (#RRGGBB or R,G,B); alone, it picks "
                                              "that engine")
    gradient: tuple[tuple[int, int, int], tuple[int, int, int]] = option(
        ((255, 255, 255), (200, 200, 205)), parse=parse_gradient, metavar="TOP:BOTTOM",
        help="colours for --engine gradient, top to bottom (default #ffffff:#c8c8cd)")
    blur_sigma: float = option(0.02, flag="--blur-sigma",
                               help="blur for --engine blur, as a fraction of the image diagonal (default 0.02)")
    background_image: Optional[str] = option(None, metavar="FILE",
                                             help="picture for --engine image; alone, it picks that engine")
    extra: dict = option(cli=False, flat="", default_factory=dict, help="engine-specific extras (recipes)")

    def variant_seeds(self) -> list[int]:
        """The seed of each variant: a variant's output depends on its own seed only."""
        if self.seeds is not None:
            seeds = [int(s) for s in self.seeds]
            if len(seeds) != self.variants:
                raise ValueError(f"{len(seeds)} seeds given for {self.variants} variants.")
            return seeds
        return [int(self.seed) + i for i in range(self.variants)]

    def validate(self) -> GenerationSettings:
        """Raise ``ValueError`` with a readable message for settings no engine can honour."""
        if self.variants < 1:
            raise ValueError(f"variants must be at least 1 (got {self.variants}).")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1 (got {self.steps}).")
        if self.resolution < 64 or self.resolution % 8:
            raise ValueError(f"resolution must be a multiple of 8 and at least 64 (got {self.resolution}).")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"Unknown scheduler '{self.scheduler}': choose one of {', '.join(SCHEDULERS)}.")
        if self.guidance < 0 or self.controlnet_scale < 0:
            raise ValueError("guidance and controlnet_scale must not be negative.")
        self.variant_seeds()
        return self

    def to_dict(self) -> dict:
        """The recipe form: plain JSON values (the scheduler as its name, colours as lists)."""
        return plain(to_dict(self))
