"""What a caller asks of a background engine: one dataclass, serialisable into a recipe.

Each field carries its help text and command-line flag (``packshot.core.options``): ``packshot batch``'s
background options are generated from this class, and ``JobSettings.generation`` is one of these.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Optional

from packshot.core.errors import SettingError
from packshot.core.options import Choice, coerce_fields, option, plain, to_dict
from packshot.core.settings_bounds import (
    MAX_PATH_CHARS,
    MAX_PROMPT_CHARS,
    SEED_MAX,
    model_id_problem,
    whole_numbers_problem,
)


class Scheduler(Choice):
    UNIPC = "unipc"
    DDIM = "ddim"
    EULER = "euler"
    DPMPP = "dpm++"


SCHEDULERS = Scheduler.values()


class Detail(Choice):
    """How a generated background reaches the output's size (``packshot.core.generation.upscale``)."""

    AUTO = "auto"  # on a GPU repaint, on the CPU upscale (packshot.core.generation.detail.resolve_detail); bicubic without a model
    OFF = "off"  # bicubic, as the paper does
    UPSCALE = "upscale"  # a learned upscale at final quality; fails when no upscaler is downloaded
    REPAINT = "repaint"  # the upscale, then a low-strength tiled img2img of the same model (packshot.core.generation.detail)


class Quality(Choice):
    """``final``: the paper's settings. ``preview``: the same models and seed, less work (packshot.core.generation.preview)."""

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

    prompt: str = option("", cli=False, flat="", max_length=MAX_PROMPT_CHARS,
                         help="the filled prompt of one photo (from the prompt settings)")
    negative_prompt: str = option("", cli=False, flat="", max_length=MAX_PROMPT_CHARS,
                                  help="the filled negative prompt of one photo")
    steps: int = option(20, bounds=(1, 200), unit="steps", help="denoising steps (default 20)")
    guidance: float = option(7.5, bounds=(0, 30), unit="a scale factor; 1 is no guidance",
                             help="classifier-free guidance scale (default 7.5)")
    controlnet_scale: float = option(1.0, bounds=(0, 2), unit="a scale factor",
                                     help="ControlNet conditioning scale (default 1.0)")
    seed: int = option(0, bounds=(0, SEED_MAX), unit="a 32-bit seed",
                       help="seed of the first variant (variant k: seed+k)")
    variants: int = option(1, bounds=(1, 64), unit="images",
                           help="images per photo (default 1; generative engines only)")
    scheduler: Scheduler = option(Scheduler.UNIPC, help="diffusion scheduler (default unipc)")
    resolution: int = option(512, bounds=(64, 2048), unit="pixels", multiple_of=8,
                             help="generation size (default 512)")
    quality: Quality = option(Quality.FINAL,
                              help="final (the paper's settings) or preview (same seed, fewer steps, smaller "
                                   "canvas, guidance on the first steps, tiny decoder: under a minute on a "
                                   "laptop CPU); replay a preview with --quality final")
    # Not in the job key either: the pass it resolves to on the rendering device goes in (packshot.core.jobs.context).
    detail: Detail = option(Detail.AUTO, in_key=False,
                            help="how the 512-pixel background reaches the photo's size at final quality: auto "
                                 "(on a GPU repaint for si2 and si2-controlnet, else upscale; bicubic when no "
                                 "upscaler is downloaded, said in a note), upscale (a learned x4 upscale; fails "
                                 "without the model), repaint (upscale, then a low-strength tiled pass of the same "
                                 "model paints detail at full size: si2 and si2-controlnet, meant for a GPU) or off "
                                 "(bicubic); previews never upscale; recipes record the pass that ran")
    # Not in the job key: the upscaler that runs (resolved for the rendering device) goes in instead, so one
    # chosen by --detail auto and the same one named here (or pinned by a Ray driver) are the same job.
    upscaler: Optional[str] = option(None, metavar="MODEL_ID", check=model_id_problem, in_key=False,
                                     help="the upscaler model (default: realesrgan-x4plus on a GPU, "
                                          "realesr-general-x4v3 on the CPU)")
    # Explicit per-variant seeds (replaying a recipe, QC retries); None = seed, seed + 1, ...
    seeds: Optional[tuple[int, ...]] = option(None, cli=False, flat="", bounds=(0, SEED_MAX), unit="32-bit seeds",
                                              check=whole_numbers_problem,
                                              help="explicit per-variant seeds (replay, QC retries, the app)")
    # Non-generative engines
    color: tuple[int, int, int] = option((255, 255, 255), parse=parse_colour, metavar="COLOUR", shape=(3,),
                                         check=whole_numbers_problem,
                                         bounds=(0, 255), unit="8-bit red, green, blue",
                                         help="colour for --engine color (#RRGGBB or R,G,B); alone, it picks "
                                              "that engine")
    gradient: tuple[tuple[int, int, int], tuple[int, int, int]] = option(
        ((255, 255, 255), (200, 200, 205)), parse=parse_gradient, metavar="TOP:BOTTOM", shape=(2, 3),
        check=whole_numbers_problem,
        bounds=(0, 255), unit="8-bit red, green, blue",
        help="colours for --engine gradient, top to bottom (default #ffffff:#c8c8cd)")
    # Measured against the diagonal so one value blurs alike at every photo size (0.02 of a 12 MP
    # photo's diagonal is about 100 pixels); past 0.1 nothing of the scene is left to recognise.
    blur_sigma: float = option(0.02, flag="--blur-sigma", bounds=(0, 0.1), unit="a fraction of the image diagonal",
                               help="blur for --engine blur: the Gaussian's sigma as a fraction of the image "
                                    "diagonal, not pixels (default 0.02)")
    background_image: Optional[str] = option(None, metavar="FILE", max_length=MAX_PATH_CHARS,
                                             help="picture for --engine image; alone, it picks that engine")
    # flux2-klein: a photo whose look the background takes on (one look across a catalogue).
    reference: Optional[str] = option(None, metavar="IMAGE", max_length=MAX_PATH_CHARS,
                                      help="style reference photo for --engine flux2-klein (its sha256 goes into "
                                           "the recipe; replay needs the same file)")
    extra: dict = option(cli=False, flat="", default_factory=dict, help="engine-specific extras (recipes)")

    def __post_init__(self) -> None:
        coerce_fields(self)  # types and declared bounds: the CLI, the app and replayed recipes alike
        if self.seeds is None and self.seed + self.variants - 1 > SEED_MAX:
            error = SettingError("--seed", f"{self.seed} with --variants {self.variants} gives seeds past "
                                           f"{SEED_MAX} (range 0 to {SEED_MAX}, a 32-bit seed)")
            error.field = "seed"  # type: ignore[attr-defined]
            raise error

    def variant_seeds(self) -> list[int]:
        """The seed of each variant: a variant's output depends on its own seed only."""
        if self.seeds is not None:
            seeds = [int(s) for s in self.seeds]
            if len(seeds) != self.variants:
                raise ValueError(f"{len(seeds)} seeds given for {self.variants} variants.")
            return seeds
        return [int(self.seed) + i for i in range(self.variants)]

    def validate(self) -> GenerationSettings:
        """Raise ``ValueError`` (``SettingError``) with a readable message for settings no engine can honour:
        the declared bounds again (a caller may have changed a field since it was built), and one seed
        per variant."""
        coerce_fields(self)
        self.variant_seeds()
        return self

    def to_dict(self) -> dict:
        """The recipe form: plain JSON values (the scheduler as its name, colours as lists)."""
        return plain(to_dict(self))
