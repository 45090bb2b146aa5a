"""The model manifest: one JSON file in resources/ listing every model the app can use."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

RESOURCES_DIR = Path(__file__).resolve().parents[2] / "resources"
MANIFEST_PATH = RESOURCES_DIR / "models.json"


@dataclass(frozen=True)
class ManifestFile:
    path: str
    bytes: Optional[int] = None
    sha256: Optional[str] = None


@dataclass(frozen=True)
class ModelSpec:
    """One model: where it comes from and what a complete local copy holds."""

    id: str
    title: str
    kind: str  # "diffusers", "diffusers-component" (one model folder), "sam", "onnx" or "upscaler"
    source: dict
    licence: str = ""
    approx_bytes: int = 0
    files: tuple[ManifestFile, ...] = ()
    allow_patterns: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    variant: Optional[str] = None  # SAM architecture (vit_b/l/h)
    used_by: tuple[str, ...] = ()
    user: bool = False  # found in the user's models folder, not in the manifest
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def repo_id(self) -> Optional[str]:
        return self.source.get("repo_id")

    @property
    def revision(self) -> str:
        return self.source.get("revision", "main")

    @property
    def size_text(self) -> str:
        return human_bytes(self.approx_bytes) if self.approx_bytes else "unknown size"


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _spec_from_json(model_id: str, raw: dict) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        title=raw.get("title", model_id),
        kind=raw["kind"],
        source=raw.get("source", {"type": "local"}),
        licence=raw.get("licence", ""),
        approx_bytes=int(raw.get("approx_bytes", 0)),
        files=tuple(ManifestFile(**f) for f in raw.get("files", [])),
        allow_patterns=tuple(raw.get("allow_patterns", [])),
        components=tuple(raw.get("components", [])),
        variant=raw.get("variant"),
        used_by=tuple(raw.get("used_by", [])),
        extra={k: v for k, v in raw.items() if k in ("pipeline",)},
    )


@lru_cache(maxsize=1)
def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, ModelSpec]:
    """Model id -> spec, in manifest order."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {model_id: _spec_from_json(model_id, entry) for model_id, entry in raw["models"].items()}


def user_model_spec(folder: Path) -> Optional[ModelSpec]:
    """A user's own model folder (e.g. a fine-tuned ControlNet from the trainer), or None.

    A diffusers folder (model_index.json) or a folder with one SAM checkpoint qualifies; the folder
    name is its id.
    """
    index = folder / "model_index.json"
    if index.is_file():
        try:
            info = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        components = tuple(k for k, v in info.items() if not k.startswith("_") and isinstance(v, list) and v[0])
        return ModelSpec(id=folder.name, title=f"{folder.name} (your model)", kind="diffusers",
                         source={"type": "local"}, components=components, user=True,
                         extra={"pipeline": info.get("_class_name", "")})
    checkpoints = [p for p in folder.glob("*") if p.suffix in (".pth", ".safetensors")]
    if len(checkpoints) == 1 and "sam" in folder.name.lower():
        return ModelSpec(id=folder.name, title=f"{folder.name} (your SAM)", kind="sam",
                         source={"type": "local"}, files=(ManifestFile(checkpoints[0].name),), user=True)
    return None
