"""What a job asks for: ``JobSettings``, one typed, nested object, and its choices.

Every field is declared once, with its default, help text and command-line flag; ``packshot
batch``'s options, eval's and masks' shared options, the project store's JSON and the job key are
all derived from these classes (``packshot.core.options``). ``JobSettings.generation`` is the
``GenerationSettings`` the engines receive (filled per photo with its prompt and seeds).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from packshot.core import options
from packshot.core.generation.presets import PRESETS
from packshot.core.generation.settings import GenerationSettings
from packshot.core.naming import DEFAULT_NAME_TEMPLATE, OUTPUT_FORMATS
from packshot.core.options import Choice, option
from packshot.core.settings_bounds import (
    MAX_NAME_CHARS,
    MAX_PATH_CHARS,
    MAX_PROMPT_CHARS,
    device_problem,
    model_id_problem,
    sam_variant_problem,
)
from packshot.core.write_guard import TMP_PREFIX as TEMP_NAME_PREFIX


class Engine(Choice):
    AUTO = "auto"
    SI2_CONTROLNET = "si2-controlnet"
    SI2 = "si2"
    SD2_CONTROLNET = "sd2-controlnet"  # the paper's ablation: SD2 base + a ControlNet trained with `packshot train`
    FLUX2_KLEIN = "flux2-klein"  # FLUX.2 [klein] 4B inpainting (a GPU engine; never chosen by auto)
    WHITE = "white"
    COLOR = "color"
    GRADIENT = "gradient"
    BLUR = "blur"
    IMAGE = "image"

    @property
    def generative(self) -> bool:
        return self in (Engine.SI2_CONTROLNET, Engine.SI2, Engine.SD2_CONTROLNET, Engine.FLUX2_KLEIN)


class Masker(Choice):
    AUTO = "auto"
    SAM = "sam"
    CLASSIC = "classic"


class Prior(Choice):
    AUTO = "auto"  # BiRefNet (lite on the CPU), else IS-Net, when downloaded; else classic
    CLASSIC = "classic"
    ISNET = "isnet"
    BIREFNET = "birefnet"  # the variant for the device: lite on the CPU, full on a GPU
    BIREFNET_LITE = "birefnet-lite"


class Shadow(Choice):
    NONE = "none"
    DROP = "drop"
    CONTACT = "contact"
    KEEP = "keep"  # the photo's own shadow, re-applied as a neutral matte (studio shots)


class DoubtfulMasks(Choice):
    CONTINUE = "continue"  # render, and report the mask
    SKIP = "skip"  # leave the photo for review; the rest of the batch goes on
    STOP = "stop"  # stop the batch at the first doubtful mask


ENGINES = Engine.values()
GENERATIVE_ENGINES = tuple(e.value for e in Engine if e.generative)
CONTROLNET_MODEL = "photo-background-generation"
TMP_PREFIX = TEMP_NAME_PREFIX  # every temp file Packshot writes starts so (packshot.core.write_guard); a sweep removes only these
DEFAULT_GENERATIVE_TEMPLATE = "studio"  # a generative engine with no prompt at all paints this
LOCK_NAME = "batch.lock"  # OUT_DIR/.packshot/batch.lock: one batch per output folder at a time
DEFAULT_DOUBT_SCORE = 0.5  # masks scoring below this are reported for review


@dataclass
class PromptSettings:
    """The prompt a job fills per photo (variables from the file name and the CSV)."""

    template: Optional[str] = option(None, max_length=MAX_NAME_CHARS,
                                     help="named prompt template (studio, marble, kitchen-counter, ...)")
    prompt: Optional[str] = option(None, max_length=MAX_PROMPT_CHARS,
                                   help="prompt text; may use {name}, {caption} and CSV variables")
    negative: Optional[str] = option(None, max_length=MAX_PROMPT_CHARS,
                                     help="negative prompt (overrides the template's)")
    variables_csv: Optional[str] = option(None, flag="--vars", metavar="CSV", max_length=MAX_PATH_CHARS,
                                          help="per-photo variables, keyed by file name")

    def __post_init__(self) -> None:
        options.coerce_fields(self)


@dataclass
class MaskSettings:
    """Where masks come from, and what a doubtful one does to the batch."""

    masks_dir: Optional[str] = option(
        None, flag="--masks", metavar="DIR", max_length=MAX_PATH_CHARS,
        help="reviewed masks named like the photos (<stem>.png, white = product; masks written by "
             "`packshot masks --white background` are recognised and read the right way round)")
    masker: Masker = option(Masker.AUTO, help="auto: SAM when its weights are present, else the salient prior")
    prior: Prior = option(Prior.AUTO, help="salient prior that seeds the mask (auto: BiRefNet, lite on the CPU, "
                                           "else IS-Net, when downloaded; else classic)")
    sam_variant: str = option("vit_b", flag=("--sam", "--sam-variant"), metavar="VARIANT", check=sam_variant_problem,
                              help="SAM size: vit_b, vit_l, vit_h or a sam-* model id (default vit_b)")
    doubtful_masks: DoubtfulMasks = option(
        DoubtfulMasks.CONTINUE, in_key=False,
        help="what a doubtful mask (low score, prior and SAM disagree, no studio backdrop) does: continue "
             "(render and report it), skip (leave the photo for review) or stop the batch (default continue)")
    doubtful_below: float = option(DEFAULT_DOUBT_SCORE, in_key=False, metavar="SCORE", bounds=(0, 1),
                                   unit="a mask score",
                                   help=f"masks scoring below this are doubtful (default {DEFAULT_DOUBT_SCORE})")

    def __post_init__(self) -> None:
        options.coerce_fields(self)


@dataclass
class OutputSettings:
    """What is written, and under which name."""

    preset: str = option("original", flag="--size", choices=tuple(PRESETS),
                         help="output size preset (default original; see the list below)")
    name_template: str = option(DEFAULT_NAME_TEMPLATE, flag="--name", max_length=MAX_NAME_CHARS,
                                help="output name template: {stem} {name} {engine} {template} {variant} "
                                     "{seed} {ext}")
    # PNG by default: lossless, so the product stays bit-identical to the photo; "auto" follows the input
    # (JPEG in, JPEG out). Every format carries the recipe (PNG text, XMP) and the original's EXIF and ICC.
    output_format: str = option("png", flag="--format", choices=("auto", *sorted(set(OUTPUT_FORMATS))),
                                help="png (default: lossless, the product bit-identical), auto (like each "
                                     "input: JPEG in, JPEG out), jpg, webp or tiff; all carry the recipe, "
                                     "EXIF and ICC")
    redo: bool = option(False, in_key=False, off_flag="--skip-done",
                        off_help="skip photos already finished with these settings (default)",
                        help="make every photo again, replacing outputs made with other settings")

    def __post_init__(self) -> None:
        options.coerce_fields(self)


@dataclass
class QualitySettings:
    """The generated-background QC gate (object expansion)."""

    qc_threshold: Optional[float] = option(None, bounds=(0, 1), unit="a fraction of the product's area", help="flag results whose object expansion exceeds this "
                                                      "fraction (default 0.10 for generated backgrounds; "
                                                      "setting it also checks plain ones)")
    qc_retries: int = option(0, bounds=(0, 10), unit="retries",
                             help="regenerate flagged results N times")

    def __post_init__(self) -> None:
        options.coerce_fields(self)


@dataclass
class MachineSettings:
    """Where the job runs; never part of the job key."""

    device: str = option("auto", in_key=False, check=device_problem, help="auto, cpu, mps, cuda or cuda:N")
    models_dir: Optional[str] = option(None, in_key=False, max_length=MAX_PATH_CHARS, help="folder holding model folders "
                                                                "(<dir>/<model id>/...)")

    def __post_init__(self) -> None:
        options.coerce_fields(self)


@dataclass
class JobSettings:
    """What a batch (or one app generation) asks for. Serialisable into the project store and recipes."""

    engine: Engine = option(Engine.AUTO, in_key=False,  # the resolved engine goes into the key instead
                            help="auto: the paper's SI2+ControlNet when its weights are present, else white")
    model: Optional[str] = option(None, metavar="MODEL_ID", check=model_id_problem,
                                  help="ControlNet model for si2-controlnet: the paper's by default, or one "
                                       "made with `packshot train` (see `packshot models list`); for "
                                       "sd2-controlnet, one made with `packshot train --mode sd2-controlnet`")
    shadow: Shadow = option(Shadow.NONE, help="shadow under the product: synthetic (drop, contact) or keep the photo's own (studio shots; falls back to a drop shadow, and says so, when none is found)")
    prompt: PromptSettings = option(cli=False, default_factory=PromptSettings, help="prompt group")
    generation: GenerationSettings = option(cli=False, default_factory=GenerationSettings,
                                            help="background group")
    masks: MaskSettings = option(cli=False, default_factory=MaskSettings, help="mask group")
    output: OutputSettings = option(cli=False, default_factory=OutputSettings, help="output group")
    qc: QualitySettings = option(cli=False, default_factory=QualitySettings, help="quality control group")
    machine: MachineSettings = option(cli=False, default_factory=MachineSettings, help="machine group")

    def __post_init__(self) -> None:
        options.coerce_fields(self)

    # -- conversions ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Nested JSON form (the project store's runs, the app's saved settings)."""
        return options.to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> JobSettings:
        """The nested form back, or a flat v1 dict (stores written before the settings were nested)."""
        groups = {"prompt", "generation", "masks", "output", "qc", "machine"}
        if any(isinstance(data.get(g), dict) for g in groups):
            return options.from_dict(cls, {k: v for k, v in data.items() if k != "engine_resolved"})
        return cls.from_flat(data)

    @classmethod
    def from_flat(cls, data: dict) -> JobSettings:
        """From flat v1 keys (engine, steps, guidance, seed, variants, prompt, template, shadow, preset,
        masker, prior, output_format, ...): old project stores and callers. ``shadow=None`` is "none";
        ``engine_resolved`` (what the store adds) is ignored."""
        flat = {k: v for k, v in data.items() if k != "engine_resolved"}
        if "shadow" in flat and flat["shadow"] is None:
            flat["shadow"] = Shadow.NONE
        return options.from_flat(cls, flat)

    def to_flat(self) -> dict:
        """The flat v1 form (``shadow`` none as None, as v1 wrote it)."""
        flat = {name: options.plain(value) for name, _, value in options.flat_items(self)}
        flat["shadow"] = None if self.shadow == Shadow.NONE else self.shadow.value
        return flat

    def with_generation(self, **changes: Any) -> JobSettings:
        return replace(self, generation=replace(self.generation, **changes))

    # -- the job's fingerprint ------------------------------------------------------------------
    def job_key(self, engine: str, extra: Optional[dict] = None) -> str:
        """Fingerprint of everything that changes the outputs; 'done' means done for this key.

        Run-time choices (device, redo, models folder, the doubtful-mask policy) are left out: the
        same job on another device is the same job. ``extra``: resolved inputs (template texts, the
        CSV's content). Computed over the flat v1 names, and fields still at their default are left
        out, so adding a field with a default (or nesting them, as now) keeps the keys (and the
        finished folders) of every earlier run valid."""
        data: dict[str, Any] = {}
        defaults = type(self)().to_flat()
        flat = self.to_flat()
        for name, f, _ in options.flat_items(self):
            if not f.metadata.get("in_key", True):
                continue
            if _canonical(flat[name]) != _canonical(defaults[name]):  # a colour list from JSON equals its tuple
                data[name] = flat[name]
        data["engine"] = str(engine)
        if self.masks.masks_dir:
            data["masks_dir"] = str(Path(self.masks.masks_dir).resolve())
        data["extra"] = extra or {}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


CLI_GROUPS = {"": "background", "prompt": "prompt", "generation": "background", "masks": "masks",
              "output": "output", "qc": "quality control", "machine": "machine"}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
