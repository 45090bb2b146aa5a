"""The batch options the app offers (no Qt): every choice of a run, with the defaults of core.

These are the widgets' values; ``desktop.job_settings.settings_from_ui`` is the one place that turns
them into ``core.jobs.JobSettings``. ``desktop.options_store`` keeps them between sessions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Optional

SHADOWS = ("none", "keep", "contact", "drop")  # "keep": the photo's own shadow (core: shadow="keep")
FORMATS = ("png", "jpg", "webp", "tiff")
SCHEDULERS = ("unipc", "ddim", "euler", "dpm++")
RENDER_QUALITIES = ("final", "preview")


@dataclass
class BatchOptions:
    """What the user chose for the next run. Defaults follow ``core.jobs.JobSettings``'s."""

    engine: str = "auto"
    template: str = ""  # a template name ("" = core's default for the engine)
    prompt: Optional[str] = None  # None: the template's own text; else the edited text
    negative: Optional[str] = None
    variants: int = 1
    seed: int = 0
    steps: int = 20
    guidance: float = 7.5
    controlnet_scale: float = 1.0
    scheduler: str = "unipc"
    resolution: int = 512
    render_quality: str = "final"  # final (the paper's settings) | preview (same seed, under a minute on a CPU)
    color: tuple[int, int, int] = (255, 255, 255)
    background_image: Optional[str] = None
    model: Optional[str] = None  # ControlNet model for si2-controlnet (None: the paper's)
    preset: str = "original"
    shadow: str = "none"
    output_format: str = "png"
    quality: int = 95  # JPEG / WebP quality of exports
    masker: str = "auto"
    prior: str = "auto"
    sam_variant: str = "vit_b"
    qc_threshold: Optional[float] = None  # None: QC for generative engines at the gate's default
    qc_retries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchOptions:
        """Unknown keys are dropped and values of the wrong type fall back to the default, so a
        settings file from another version never stops the app."""
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value, default = data[f.name], getattr(defaults, f.name)
            values[f.name] = _coerce(value, default)
        options = cls(**values)
        if options.shadow not in SHADOWS:
            options.shadow = "none"
        if options.output_format not in FORMATS:
            options.output_format = "png"
        return options


def _coerce(value: Any, default: Any) -> Any:
    if value is None:
        return None
    try:
        if isinstance(default, bool):
            return bool(value) if not isinstance(value, str) else value.lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            parts = tuple(int(v) for v in (value.split(",") if isinstance(value, str) else value))
            return parts if len(parts) == 3 else default
        if default is None:  # Optional fields: float thresholds, text
            if isinstance(value, str) and value.strip() == "":
                return None
            return value
        return str(value)
    except (TypeError, ValueError):
        return default
