"""The recipe every output carries: the data, and how it is stored in and read from files.

A recipe names everything that made an image: the original (path and sha256), the mask file
used, the engine and its models (with revisions), prompt, negative prompt, seed and all settings,
the output preset, and how the file was encoded (format, bit depth, JPEG/WebP quality).

Where it lives: PNG in an iTXt chunk (``packshot:recipe``, JSON, as before); JPEG, WebP and TIFF in
an XMP packet (property ``packshot:recipe`` in the ``PACKSHOT_NS`` namespace; XMP rather than the
EXIF UserComment because it is UTF-8, namespaced, and leaves the camera's own comment alone). When a
recipe does not fit (JPEG's XMP segment holds 65,502 bytes) it goes into a sidecar
``<output>.recipe.json`` beside the image instead. Everything is written atomically.

Replaying a recipe is a job: ``packshot.core.jobs.replay``. This module imports nothing from ``packshot.core.jobs``.

A recipe is untrusted input (a file someone may have sent you): every field is checked when one is
read (``Recipe.from_dict``), each against the bounds declared on its field here, and a bad one is
named in one line ("recipe field `seed`: 'x' is not a whole number"). Values that belong to the job
settings (engine names, the generation settings' ranges) are checked where those live, before any
file is read (``packshot.core.jobs.render.check_recipe``); paths are resolved only inside the folders a
replay may read (``packshot.core.jobs.replay``). Unknown fields are ignored, and logged: a field has no effect
unless this version reads it, and a recipe from a later 1.x release may carry one more (a newer
``version`` is refused).
"""

from __future__ import annotations

import json
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, BinaryIO, Optional
from xml.sax.saxutils import escape

import numpy as np

from packshot.core import __version__
from packshot.core.errors import PackshotError, SettingError
from packshot.core.images import encode_image, image_format, write_atomic
from packshot.core.naming import OUTPUT_FORMATS, from_storable_tree, storable_tree
from packshot.core.options import coerce_fields, default_of, option
from packshot.core.settings_bounds import (
    MAX_NAME_CHARS,
    MAX_PATH_CHARS,
    MAX_PROMPT_CHARS,
    SEED_MAX,
    model_id_problem,
    shown,
)

log = logging.getLogger(__name__)

RECIPE_KEY = "packshot:recipe"
RECIPE_VERSION = 1
SIDECAR_SUFFIX = ".recipe.json"
PACKSHOT_NS = "https://packshot.app/ns/recipe/1.0/"
DEFAULT_QUALITY = 95
_XMP_FORMATS = ("JPEG", "WEBP", "TIFF")
MAX_SIDECAR_BYTES = 16 * 2**20  # a real recipe is a few KB; a 70,000-character prompt under 100 KB
_JPEG_XMP_LIMIT = 65502  # one APP1 segment, less its header (Pillow refuses more)


class RecipeError(PackshotError):
    """A recipe that cannot be used as it is: the message names the field and what is wrong with it."""


def field_error(name: str, problem: str) -> RecipeError:
    return RecipeError(f"recipe field `{name}`: {problem}.")


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _sha256_problem(value: Any) -> Optional[str]:
    return None if isinstance(value, str) and _SHA256.fullmatch(value) else f"{shown(value)} is not a sha256"


def _mask_problem(value: Any) -> Optional[str]:
    """``{"path": text, "source": text, "state": text, "sha256": sha256 or null}`` (all optional)."""
    for key in ("path", "source", "state"):
        item = value.get(key)
        if item is not None and (not isinstance(item, str) or len(item) > MAX_PATH_CHARS):
            return f"`{key}` {shown(item)} is not text"
    if value.get("sha256") is not None:
        return _sha256_problem(value["sha256"])
    return None


def _models_problem(value: Any) -> Optional[str]:
    """Model id -> {"revision", "path"}: ids are ids (the store resolves them; the path is a note)."""
    if len(value) > 16:
        return f"names {len(value)} models; at most 16"
    for model_id, info in value.items():
        problem = model_id_problem(model_id)
        if problem:
            return problem
        if info is not None and not isinstance(info, dict):
            return f"{shown(model_id)}: {shown(info)} is not a mapping"
        if isinstance(info, dict) and info.get("sha256") is not None and (problem := _sha256_problem(info["sha256"])):
            return f"{shown(model_id)}: {problem}"
    return None


def _shadow_problem(value: Any) -> Optional[str]:
    kind = value.get("kind")
    return None if kind is None or isinstance(kind, str) and len(kind) <= MAX_NAME_CHARS else \
        f"`kind` {shown(kind)} is not text"


@dataclass
class Recipe:
    """Everything needed to make one output image again. Each field declares what it may hold; a
    recipe read from a file is checked against it (``from_dict``)."""

    input_path: str = option(help="absolute path of the original", max_length=MAX_PATH_CHARS, cli=False)
    input_sha256: str = option(help="sha256 of the original", check=_sha256_problem, cli=False)
    engine: str = option(help="the engine that painted the background", max_length=MAX_NAME_CHARS, cli=False)
    seed: int = option(help="the seed of this image", bounds=(0, SEED_MAX), unit="a 32-bit seed", cli=False)
    variant: int = option(help="which variant of the photo (1, 2, ...)", bounds=(1, 64), unit="variants",
                          cli=False)
    prompt: str = option("", help="the filled prompt", max_length=MAX_PROMPT_CHARS, cli=False)
    negative_prompt: str = option("", help="the filled negative prompt", max_length=MAX_PROMPT_CHARS, cli=False)
    template: Optional[str] = option(None, help="the prompt template's name", max_length=MAX_NAME_CHARS, cli=False)
    settings: dict = option(help="GenerationSettings.to_dict() for this one image", default_factory=dict,
                            cli=False)
    models: dict = option(help='model id -> {"revision": ..., "path": ...}; the upscaler also with "sha256" and '
                               '"role": "upscaler" (packshot.core.generation.upscale)', default_factory=dict,
                          check=_models_problem, cli=False)
    mask: dict = option(help='{"path": relative to the output\'s folder, "source", "state", "sha256"}',
                        default_factory=dict, check=_mask_problem, cli=False)
    preset: str = option("original", help="the output size preset", max_length=MAX_NAME_CHARS, cli=False)
    shadow: Optional[dict] = option(None, help='{"kind": ...} of the shadow drawn, or null', check=_shadow_problem,
                                    cli=False)
    qc: Optional[dict] = option(None, help="the QC record (scores; not used to render)", cli=False)
    output_format: str = option("png", help="the file format written", choices=tuple(OUTPUT_FORMATS), cli=False)
    bit_depth: Optional[int] = option(None, help="8 | 16 when an export asked for it; None: the photo's own depth",
                                      bounds=(8, 16), unit="bits per channel", multiple_of=8, cli=False)
    quality: Optional[int] = option(None, help="JPEG/WebP quality it was written with; None: DEFAULT_QUALITY",
                                    bounds=(1, 100), unit="JPEG/WebP quality", cli=False)
    job_key: Optional[str] = option(None, help="the batch job that made it: a run without a project store "
                                               "resumes by it", max_length=64, cli=False)
    app_version: str = option(__version__, help="the Packshot that wrote it", max_length=64, cli=False)
    version: int = option(RECIPE_VERSION, help="the recipe format's version", bounds=(0, RECIPE_VERSION),
                          cli=False)

    def __post_init__(self) -> None:
        coerce_fields(self)

    def to_json(self) -> str:
        # storable_tree: a file name that is not UTF-8 is escaped so the text encodes; from_dict undoes it.
        return json.dumps(storable_tree(asdict(self)), sort_keys=True, ensure_ascii=False, default=_jsonable)

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        """A recipe from its JSON form, every field checked (``RecipeError`` naming the first bad one)."""
        if not isinstance(data, dict):
            raise RecipeError(f"A recipe is a JSON object; this one is {type(data).__name__}.")
        version = data.get("version", RECIPE_VERSION)
        if isinstance(version, int) and not isinstance(version, bool) and version > RECIPE_VERSION:
            raise RecipeError(f"Recipe version {version} is newer than this Packshot reads "
                              f"({RECIPE_VERSION}); update Packshot.")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            log.info("recipe: ignoring unknown field(s) %s", ", ".join(shown(k) for k in unknown[:10]))
        missing = [name for name, f in known.items() if name not in data and default_of(f) is MISSING]
        if missing:
            raise field_error(missing[0], "missing")
        data = from_storable_tree(data)
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except SettingError as exc:
            raise field_error(getattr(exc, "field", exc.name), exc.problem) from None

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecipeError(f"Recipe is not valid JSON: {exc}.") from exc
        except RecursionError:  # a hostile file nesting lists thousands deep
            raise RecipeError("Recipe is not a recipe: its JSON is nested too deep.") from None
        return cls.from_dict(data)

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
    """Whether an output of this format carries its recipe inside (PNG, JPEG, WebP, TIFF)."""
    return Path(path).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")


def sidecar_path(output_path: Path) -> Path:
    output_path = Path(output_path)
    return output_path.with_name(output_path.name + SIDECAR_SUFFIX)


def text_chunks(recipe: Recipe) -> dict[str, str]:
    """PNG text chunks: the machine-readable recipe plus a human-readable summary."""
    return {RECIPE_KEY: recipe.to_json(), "Software": f"Packshot {recipe.app_version}",
            "Description": _summary(recipe)}


def _summary(recipe: Recipe) -> str:
    return (f"engine={recipe.engine} seed={recipe.seed} prompt={recipe.prompt!r} "
            f"negative={recipe.negative_prompt!r}")


def recipe_xmp(recipe: Recipe) -> bytes:
    """An XMP packet holding the recipe (JPEG, WebP, TIFF)."""
    body = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" xmlns:packshot="{PACKSHOT_NS}" xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
            f"<xmp:CreatorTool>Packshot {escape(recipe.app_version)}</xmp:CreatorTool>"
            f"<packshot:recipe>{escape(recipe.to_json())}</packshot:recipe>"
            "</rdf:Description></rdf:RDF></x:xmpmeta>")
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>' + body + '<?xpacket end="w"?>').encode()


def recipe_from_xmp(xmp: bytes | str) -> Optional[Recipe]:
    """The recipe inside an XMP packet, or None when it holds none (as element or attribute)."""
    text = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
    if PACKSHOT_NS not in text:
        return None
    try:
        root = ET.fromstring(text.strip().lstrip("\ufeff"))
    except ET.ParseError as exc:
        raise PackshotError(f"The XMP metadata is damaged ({exc}).") from exc
    key = f"{{{PACKSHOT_NS}}}recipe"
    for element in root.iter():
        if element.tag == key and element.text:
            return Recipe.from_json(element.text)
        if key in element.attrib:  # XMP tools may rewrite simple properties as attributes
            return Recipe.from_json(element.attrib[key])
    return None


def write_sidecar(output_path: Path, recipe: Recipe) -> Path:
    """Atomic JSON sidecar (temp file + rename), so a kill never leaves half a recipe."""
    return write_atomic(sidecar_path(output_path), sidecar_bytes(recipe))


def encode_output(path: Path | str, pixels: np.ndarray, recipe: Recipe, *, icc_profile: Optional[bytes] = None,
                  exif: Optional[bytes] = None) -> tuple[bytes, Optional[bytes]]:
    """An output's bytes with its recipe inside (PNG text, XMP otherwise), and the sidecar's bytes when the
    recipe does not fit (None when it went inside). The quality is the recipe's, so a replay encodes alike."""
    fmt = image_format(path)
    text = text_chunks(recipe) if fmt == "PNG" else None
    xmp = recipe_xmp(recipe) if fmt in _XMP_FORMATS else None
    if fmt == "JPEG" and xmp is not None and len(xmp) > _JPEG_XMP_LIMIT:
        xmp = None
    sidecar = None if text is not None or xmp is not None else sidecar_bytes(recipe)
    data = encode_image(pixels, fmt, icc_profile=icc_profile, text=text, exif=exif, xmp=xmp,
                        quality=recipe.quality or DEFAULT_QUALITY)
    return data, sidecar


def sidecar_bytes(recipe: Recipe) -> bytes:
    return (json.dumps(json.loads(recipe.to_json()), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def save_output(path: Path | str, pixels: np.ndarray, recipe: Recipe, *, icc_profile: Optional[bytes] = None,
                exif: Optional[bytes] = None) -> Path:
    """Write an output with its recipe inside, or beside it when it does not fit (``encode_output``).

    The sidecar is written before the image, so an image never lacks its recipe; a stale sidecar is
    removed when the recipe went inside the file. Returns ``path``."""
    path = Path(path)
    data, sidecar = encode_output(path, pixels, recipe, icc_profile=icc_profile, exif=exif)
    if sidecar is not None:
        write_atomic(sidecar_path(path), sidecar)
    write_atomic(path, data)
    if sidecar is None:
        sidecar_path(path).unlink(missing_ok=True)
    return path


def recipe_in_image(source: Path | BinaryIO, name: str) -> Optional[Recipe]:
    """The recipe inside an image (PNG text chunk or XMP), None when it holds none. ``source``: a file or
    its bytes (the head is enough: the recipe precedes the pixels); ``name`` for messages."""
    from PIL import Image

    try:
        with Image.open(source) as im:
            if im.format == "PNG":
                if isinstance(im.info.get(RECIPE_KEY), str):  # before the pixels: a file's head is enough
                    return Recipe.from_json(im.info[RECIPE_KEY])
                text = dict(getattr(im, "text", {}) or {})
                if RECIPE_KEY in text:
                    return Recipe.from_json(text[RECIPE_KEY])
            xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
            return recipe_from_xmp(xmp) if xmp else None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PackshotError(f"{name}: cannot read it ({exc}).") from exc


def read_recipe(output_path: Path | str) -> Recipe:
    """The recipe of an output: from inside the file (PNG text chunk or XMP), else from its sidecar."""
    output_path = Path(output_path)
    if embeds_in_file(output_path) and output_path.is_file():
        found = recipe_in_image(output_path, output_path.name)
        if found is not None:
            return found
    side = sidecar_path(output_path)
    if side.is_file():
        if side.stat().st_size > MAX_SIDECAR_BYTES:
            raise RecipeError(f"{side.name} is {side.stat().st_size // 2**20} MB: too large to be a recipe.")
        try:
            return Recipe.from_json(side.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise RecipeError(f"{side.name} is not a recipe (not UTF-8 text: {exc.reason}).") from None
    raise PackshotError(f"{output_path.name} carries no Packshot recipe (none inside the file and no "
                        f"{side.name}).")
