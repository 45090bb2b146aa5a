"""Output file names from a template, sanitised so that no name can leave the output folder.

Fields: ``{stem}`` (input file name without extension, made unique among the inputs),
``{name}`` (readable product name), ``{engine}``, ``{template}``, ``{variant}`` (1-based),
``{seed}``, ``{ext}`` (input extension without the dot). A ``/`` in the template makes
sub-folders; every path component is cleaned, ``.``/``..`` and absolute paths are dropped, and the
final path is checked to lie inside the output folder.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from core.errors import TemplateError
from core.templates import fill_template, template_fields

DEFAULT_NAME_TEMPLATE = "{stem}"
NAME_FIELDS = ("stem", "name", "engine", "template", "variant", "seed", "ext", "key")  # key: the settings' id
OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tiff", "tif": ".tiff"}
MAX_COMPONENT = 120  # bytes; most file systems stop at 255 and we add suffixes
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"\\|?*]')


def check_name_template(template: str) -> None:
    """``TemplateError`` now (before any work) if the template uses a field naming cannot fill."""
    unknown = sorted(template_fields(template) - set(NAME_FIELDS))
    if unknown:
        raise TemplateError(f"Output name template uses unknown field(s) {', '.join('{' + u + '}' for u in unknown)}; "
                            f"available: {', '.join('{' + f + '}' for f in NAME_FIELDS)}.")
    if not template.strip():
        raise TemplateError("Output name template is empty.")


def sanitize_component(text: str) -> str:
    """One safe file/folder name: no separators, control or reserved characters, bounded length."""
    text = unicodedata.normalize("NFC", text)
    text = _UNSAFE.sub("_", text.replace("/", "_"))
    text = text.strip().strip(".")  # leading dots hide files; trailing dots break Windows
    if not text:
        return "_"
    if text.split(".")[0].upper() in _WINDOWS_RESERVED:
        text = "_" + text
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_COMPONENT:
        text = encoded[:MAX_COMPONENT].decode("utf-8", "ignore")
    return text


def unique_stems(paths: Iterable[Path]) -> dict[Path, str]:
    """Stem per input; inputs sharing a stem ('a.jpg', 'a.png') get their extension appended."""
    paths = list(paths)
    counts = Counter(p.stem.lower() for p in paths)
    return {p: (p.stem if counts[p.stem.lower()] == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}")
            for p in paths}


def output_path(out_dir: Path, name_template: str, fields: Mapping[str, object], suffix: str,
                *, variants: int = 1) -> Path:
    """The output file for one result, always inside ``out_dir``.

    With several variants and a template that names neither ``{variant}`` nor ``{seed}``,
    ``-v{variant}`` is appended so variants never overwrite each other.
    """
    check_name_template(name_template)
    used = template_fields(name_template)
    if variants > 1 and not used & {"variant", "seed"}:
        name_template = name_template + "-v{variant}"
    raw = fill_template(name_template, {k: str(v) for k, v in fields.items()})
    parts = [sanitize_component(p) for p in re.split(r"[/\\]+", raw) if p.strip() not in ("", ".", "..")]
    if not parts:
        parts = ["_"]
    parts[-1] = parts[-1] + suffix
    root = Path(out_dir).resolve()
    target = root.joinpath(*parts).resolve()
    if target != root and root not in target.parents:  # symlinked sub-folders could still point out
        raise TemplateError(f"Output name '{raw}' would be written outside {root}.")
    if _is_internal(target, root):
        raise TemplateError(f"Output name '{raw}' falls inside Packshot's own .packshot folder.")
    return target


def _is_internal(target: Path, root: Path) -> bool:
    rel = target.relative_to(root)
    return bool(rel.parts) and rel.parts[0] == ".packshot"


def output_suffix(fmt: str) -> str:
    try:
        return OUTPUT_FORMATS[fmt.lower().lstrip(".")]
    except KeyError:
        raise TemplateError(f"Unknown output format '{fmt}'. Use one of: png, jpg, webp, tiff.") from None
