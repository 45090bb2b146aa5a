"""The recipe every output carries: the data, and how it is stored in and read from files.

A recipe names everything that made an image: the original (path and sha256), the mask file
used, the engine and its models (with revisions), prompt, negative prompt, seed and all settings,
the output preset, and how the file was encoded (format, bit depth, JPEG/WebP quality).

Where it lives: PNG in an iTXt chunk (``packshot:recipe``, JSON, as before); JPEG, WebP and TIFF in
an XMP packet (property ``packshot:recipe`` in the ``PACKSHOT_NS`` namespace; XMP rather than the
EXIF UserComment because it is UTF-8, namespaced, and leaves the camera's own comment alone). When a
recipe does not fit (JPEG's XMP segment holds 65,502 bytes) it goes into a sidecar
``<output>.recipe.json`` beside the image instead. Everything is written atomically.

Replaying a recipe is a job: ``core.jobs.replay``. This module imports nothing from ``core.jobs``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Optional
from xml.sax.saxutils import escape

import numpy as np

from core import __version__
from core.errors import PackshotError
from core.images import encode_image, image_format, write_atomic
from core.naming import from_storable_tree, storable_tree

RECIPE_KEY = "packshot:recipe"
RECIPE_VERSION = 1
SIDECAR_SUFFIX = ".recipe.json"
PACKSHOT_NS = "https://packshot.app/ns/recipe/1.0/"
DEFAULT_QUALITY = 95
_XMP_FORMATS = ("JPEG", "WEBP", "TIFF")
_JPEG_XMP_LIMIT = 65502  # one APP1 segment, less its header (Pillow refuses more)


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
    bit_depth: Optional[int] = None  # 8 | 16 when an export asked for it; None: the photo's own depth
    quality: Optional[int] = None  # JPEG/WebP quality it was written with; None: DEFAULT_QUALITY
    job_key: Optional[str] = None  # the batch job that made it: a run without a project store resumes by it
    app_version: str = __version__
    version: int = RECIPE_VERSION

    def to_json(self) -> str:
        # storable_tree: a file name that is not UTF-8 is escaped so the text encodes; from_dict undoes it.
        return json.dumps(storable_tree(asdict(self)), sort_keys=True, ensure_ascii=False, default=_jsonable)

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        if int(data.get("version", 0)) > RECIPE_VERSION:
            raise PackshotError(f"Recipe version {data.get('version')} is newer than this Packshot reads "
                                f"({RECIPE_VERSION}); update Packshot.")
        known = set(cls.__dataclass_fields__)
        data = from_storable_tree(data)
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
        return Recipe.from_json(side.read_text(encoding="utf-8"))
    raise PackshotError(f"{output_path.name} carries no Packshot recipe (none inside the file and no "
                        f"{side.name}).")
