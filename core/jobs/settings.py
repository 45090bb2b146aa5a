"""What a job asks for (``JobSettings``) and what it reports (outcomes, plans, summaries)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from core.naming import DEFAULT_NAME_TEMPLATE
from core.project import NewResult

ENGINES = ("auto", "si2-controlnet", "si2", "white", "color", "gradient", "blur", "image")
GENERATIVE_ENGINES = ("si2-controlnet", "si2")
CONTROLNET_MODEL = "photo-background-generation"
ENABLE_HINT = ("Generated backgrounds are off: no weights for '{model}'. Using a white background with the "
               "{masker} mask. To enable them: packshot models download {model}")
TMP_PREFIX = ".tmp-"  # core.images.save_image / recipe sidecars write here first, then rename
DEFAULT_GENERATIVE_TEMPLATE = "studio"  # a generative engine with no prompt at all paints this
LOCK_NAME = "batch.lock"  # OUT_DIR/.packshot/batch.lock: one batch per output folder at a time


@dataclass
class JobSettings:
    """What a batch (or one GUI generation) asks for. Serialisable into the project store."""

    engine: str = "auto"
    template: Optional[str] = None
    prompt: Optional[str] = None
    negative: Optional[str] = None
    variables_csv: Optional[str] = None
    variants: int = 1
    seed: int = 0
    steps: int = 20
    guidance: float = 7.5
    controlnet_scale: float = 1.0
    scheduler: str = "unipc"
    resolution: int = 512
    color: tuple[int, int, int] = (255, 255, 255)
    background_image: Optional[str] = None
    preset: str = "original"
    shadow: Optional[str] = None  # None | "drop" | "contact" | "keep" (the photo's own)
    masker: str = "auto"
    prior: str = "auto"  # salient prior seeding the mask: auto (IS-Net when present) | classic | isnet
    sam_variant: str = "vit_b"
    masks_dir: Optional[str] = None
    qc_threshold: Optional[float] = None  # None: QC only for generative engines, at the gate's default
    qc_retries: int = 0
    name_template: str = DEFAULT_NAME_TEMPLATE
    output_format: str = "png"
    redo: bool = False
    device: str = "auto"
    models_dir: Optional[str] = None
    model: Optional[str] = None  # ControlNet model id for si2-controlnet (None: the paper's weights)

    def to_dict(self) -> dict:
        return asdict(self)

    def job_key(self, engine: str, extra: Optional[dict] = None) -> str:
        """Fingerprint of everything that changes the outputs; 'done' means done for this key.

        Run-time choices (device, redo, models folder) are left out: the same job on another device
        is the same job. ``extra``: resolved inputs (template texts, the CSV's content).

        Fields still at their dataclass default are left out, so that adding a new field with a
        default later keeps the keys (and the finished folders) of every earlier run valid."""
        data = {}
        for f in fields(self):
            if f.name in ("redo", "device", "models_dir", "engine"):
                continue
            value = getattr(self, f.name)
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            if _canonical(value) != _canonical(default):  # a colour list from JSON equals its tuple
                data[f.name] = value
        data["engine"] = engine
        if self.masks_dir:
            data["masks_dir"] = str(Path(self.masks_dir).resolve())
        data["extra"] = extra or {}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class PhotoOutcome:
    """What happened to one photo."""

    path: Path
    status: str  # done | skipped | failed | cancelled
    outputs: list[Path] = field(default_factory=list)
    message: str = ""
    error_kind: Optional[str] = None
    notes: list[str] = field(default_factory=list)
    results: list[NewResult] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class PhotoPlan:
    """What a photo's job would do (``--dry-run``, the GUI's prompt preview)."""

    path: Path
    outputs: list[Path]
    prompt: str
    negative: str
    done: bool


@dataclass
class BatchSummary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    cancelled: bool = False
    seconds: float = 0.0
    engine: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def merge(cls, parts: Sequence[dict]) -> BatchSummary:
        total = cls()
        for part in parts:
            total.done += part["done"]
            total.skipped += part["skipped"]
            total.failed += [tuple(f) for f in part["failed"]]
            total.cancelled = total.cancelled or part["cancelled"]
            total.seconds = max(total.seconds, part["seconds"])
            total.engine = total.engine or part["engine"]
        return total


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

