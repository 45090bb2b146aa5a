"""Output file names from a template, sanitised so that no name can leave the output folder.

Fields: ``{stem}`` (input file name without extension, made unique among the inputs),
``{name}`` (readable product name), ``{engine}``, ``{template}``, ``{variant}`` (1-based),
``{seed}``, ``{ext}`` (input extension without the dot). A ``/`` in the template makes
sub-folders; every path component is cleaned, ``.``/``..`` and absolute paths are dropped, and the
final path is checked to lie inside the output folder.

Names that are not valid UTF-8 (bytes from an old archive or a shared drive; Python holds them as
lone surrogates) keep their bytes in output file names. Text meant for people (messages, logs, the
summary) shows them escaped (``display_name``); text a store keeps and reads back (SQLite, which
refuses lone surrogates) goes through ``storable`` and ``from_storable``, which round-trip exactly.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from packshot.core.errors import TemplateError
from packshot.core.templates import fill_template, template_fields

DEFAULT_NAME_TEMPLATE = "{stem}"
NAME_FIELDS = ("stem", "name", "engine", "template", "variant", "seed", "ext", "key")  # key: the settings' id
OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tiff", "tif": ".tiff"}
MAX_COMPONENT = 120  # bytes; most file systems stop at 255 and we add suffixes
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"\\|?*]')
_SURROGATE = re.compile("[\udc80-\udcff]")
# A backslash that reads like one of storable's escapes: \x80-\xff (undecodable bytes) or \x5c (itself).
_ESCAPE_LIKE = re.compile(r"\\(?=x(?:[89a-f][0-9a-f]|5c))")
_STORED_ESCAPE = re.compile(rb"\\x([89a-f][0-9a-f]|5c)")


def check_name_template(template: str) -> None:
    """``TemplateError`` now (before any work) if the template uses a field naming cannot fill."""
    unknown = sorted(template_fields(template) - set(NAME_FIELDS))
    if unknown:
        raise TemplateError(f"Output name template uses unknown field(s) {', '.join('{' + u + '}' for u in unknown)}; "
                            f"available: {', '.join('{' + f + '}' for f in NAME_FIELDS)}.")
    if not template.strip():
        raise TemplateError("Output name template is empty.")


def has_undecodable(text: str) -> bool:
    """True when ``text`` holds bytes that were not UTF-8 (os.fsdecode's lone surrogates)."""
    return _SURROGATE.search(text) is not None


def display_name(path_or_name: os.PathLike | str) -> str:
    """``path_or_name`` as text every terminal, log file, JSON and SQLite accepts: bytes that are not
    UTF-8 shown as ``\\xe9`` escapes, everything else unchanged. For people only: it does not round-trip
    (a store uses ``storable``)."""
    text = os.fspath(path_or_name)
    if not has_undecodable(text):
        return text
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def storable(path_or_name: os.PathLike | str) -> str:
    """``path_or_name`` as valid UTF-8 text that ``from_storable`` turns back into the same name.

    Unchanged for every ordinary name. Bytes that are not UTF-8 become ``\\xNN``; a literal backslash
    that happens to precede such a sequence becomes ``\\x5c``, so no two names ever store alike."""
    text = os.fspath(path_or_name)
    if not has_undecodable(text) and _ESCAPE_LIKE.search(text) is None:
        return text
    text = _ESCAPE_LIKE.sub(r"\\x5c", text)
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def from_storable(text: str) -> str:
    """The name ``storable`` made ``text`` from (ordinary names come back unchanged)."""
    if "\\x" not in text:
        return text
    return os.fsdecode(_STORED_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8")))


def storable_tree(value: object) -> object:
    """``value`` (JSON-like: dicts, lists, strings, paths) with every string and path made ``storable``."""
    if isinstance(value, (str, os.PathLike)):
        return storable(value)
    if isinstance(value, dict):
        return {storable_tree(k): storable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_tree(v) for v in value]
    return value


def from_storable_tree(value: object) -> object:
    """The inverse of ``storable_tree`` (tuples come back as lists, paths as strings, as JSON gives them)."""
    if isinstance(value, str):
        return from_storable(value)
    if isinstance(value, dict):
        return {from_storable_tree(k): from_storable_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_storable_tree(v) for v in value]
    return value


def sanitize_component(text: str) -> str:
    """One safe file/folder name: no separators, control or reserved characters, bounded length."""
    text = unicodedata.normalize("NFC", text)
    text = _UNSAFE.sub("_", text.replace("/", "_"))
    text = text.strip().strip(".")  # leading dots hide files; trailing dots break Windows
    if not text:
        return "_"
    if text.split(".")[0].upper() in _WINDOWS_RESERVED:
        text = "_" + text
    while len(os.fsencode(text)) > MAX_COMPONENT:  # bytes as written: undecodable ones count once
        text = text[:-1]
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
        raise TemplateError(f"Output name '{display_name(raw)}' would be written outside {display_name(root)}.")
    if _is_internal(target, root):
        raise TemplateError(f"Output name '{display_name(raw)}' falls inside Packshot's own .packshot folder.")
    return target


def _is_internal(target: Path, root: Path) -> bool:
    rel = target.relative_to(root)
    return bool(rel.parts) and rel.parts[0] == ".packshot"


def output_suffix(fmt: str) -> str:
    try:
        return OUTPUT_FORMATS[fmt.lower().lstrip(".")]
    except KeyError:
        raise TemplateError(f"Unknown output format '{fmt}'. Use one of: png, jpg, webp, tiff.") from None
