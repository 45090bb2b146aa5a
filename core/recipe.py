"""The recipe every output carries, and replaying it.

A recipe names everything that made an image: the original (path and sha256), the mask file
used, the engine and its models (with revisions), prompt, negative prompt, seed and all settings,
the output preset. PNG outputs carry it in an iTXt chunk (``packshot:recipe``, JSON); other
formats get a sidecar ``<output>.recipe.json`` written atomically beside the image.

``replay`` runs the same steps again (``core.jobs.render_result``) and returns the image; for the
deterministic engines it is bit-identical, for generative ones it is the same seed on the same
weights.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from core import __version__
from core.errors import PackshotError
from core.images import write_atomic

RECIPE_KEY = "packshot:recipe"
RECIPE_VERSION = 1
SIDECAR_SUFFIX = ".recipe.json"


@dataclass
class Recipe:
    """Everything needed to make one output image again."""

    input_path: str  # absolute path of the original
    input_sha256: str
    engine: str
    seed: int
    variant: int
    prompt: str = ""
    negative_prompt: str = ""
    template: Optional[str] = None
    settings: dict = field(default_factory=dict)  # GenerationSettings.to_dict() for this one image
    models: dict = field(default_factory=dict)  # model id -> {"revision": ..., "path": ...}
    mask: dict = field(default_factory=dict)  # {"path": relative to the output's folder, "source", "state", "sha256"}
    preset: str = "original"
    shadow: Optional[dict] = None
    qc: Optional[dict] = None
    output_format: str = "png"
    app_version: str = __version__
    version: int = RECIPE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, default=_jsonable)

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        if int(data.get("version", 0)) > RECIPE_VERSION:
            raise PackshotError(f"Recipe version {data.get('version')} is newer than this Packshot reads "
                                f"({RECIPE_VERSION}); update Packshot.")
        known = set(cls.__dataclass_fields__)
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise PackshotError(f"Recipe is incomplete: {exc}.") from exc

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise PackshotError(f"Recipe is not valid JSON: {exc}.") from exc

    def mask_file(self, output_path: Path) -> Optional[Path]:
        rel = self.mask.get("path")
        return (Path(output_path).parent / rel).resolve() if rel else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def embeds_in_file(path: Path) -> bool:
    """PNG carries the recipe inside; every other format uses a sidecar."""
    return Path(path).suffix.lower() == ".png"


def sidecar_path(output_path: Path) -> Path:
    output_path = Path(output_path)
    return output_path.with_name(output_path.name + SIDECAR_SUFFIX)


def text_chunks(recipe: Recipe) -> dict[str, str]:
    """PNG text chunks: the machine-readable recipe plus a human-readable summary."""
    summary = (f"engine={recipe.engine} seed={recipe.seed} prompt={recipe.prompt!r} "
               f"negative={recipe.negative_prompt!r}")
    return {RECIPE_KEY: recipe.to_json(), "Software": f"Packshot {recipe.app_version}", "Description": summary}


def write_sidecar(output_path: Path, recipe: Recipe) -> Path:
    """Atomic JSON sidecar (temp file + rename), so a kill never leaves half a recipe."""
    text = json.dumps(json.loads(recipe.to_json()), indent=2, ensure_ascii=False) + "\n"
    return write_atomic(sidecar_path(output_path), text.encode("utf-8"))


def read_recipe(output_path: Path | str) -> Recipe:
    """The recipe of an output: from its PNG text chunk, else from its sidecar."""
    output_path = Path(output_path)
    if embeds_in_file(output_path):
        from PIL import Image

        try:
            with Image.open(output_path) as im:
                im.load()
                text = dict(getattr(im, "text", {}) or {})
        except OSError as exc:
            raise PackshotError(f"{output_path.name}: cannot read it ({exc}).") from exc
        if RECIPE_KEY in text:
            return Recipe.from_json(text[RECIPE_KEY])
    side = sidecar_path(output_path)
    if side.is_file():
        return Recipe.from_json(side.read_text(encoding="utf-8"))
    raise PackshotError(f"{output_path.name} carries no Packshot recipe (no '{RECIPE_KEY}' text chunk and "
                        f"no {side.name}).")


def replay(output_path: Path | str, *, store: Any = None, device: str = "auto", check_input: bool = True) -> Any:
    """Make the image of ``output_path`` again from its recipe; returns H x W x 3 pixels.

    ``check_input``: refuse when the original changed since (its sha256 differs).
    """
    from core.jobs import render_from_recipe

    output_path = Path(output_path)
    recipe = read_recipe(output_path)
    return render_from_recipe(recipe, output_path, store=store, device=device, check_input=check_input)
