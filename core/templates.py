"""Prompt templates: named prompts with variables, filled safely per photo.

A template is plain text with ``{variable}`` fields. Fields are filled from:
``name`` (a readable name made from the file name), ``stem`` and ``filename`` (the file's own
name), ``caption`` (the CSV's ``caption`` column, else ``name``) and any column of a user CSV
keyed by file name. Substitution never calls ``str.format``: fields are parsed with
``string.Formatter().parse`` and anything beyond a bare identifier (attribute access ``{a.b}``,
indexing ``{a[0]}``, conversions ``{a!r}``, format specs ``{a:>9}``, positional ``{}``) is
refused, so a template can never reach into Python objects.
"""

from __future__ import annotations

import csv
import json
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from packshot.core.errors import TemplateError

RESOURCES_DIR = Path(__file__).resolve().parents[1] / "resources"
TEMPLATES_FILE = RESOURCES_DIR / "templates.json"
BUILTIN_VARIABLES = ("name", "stem", "filename", "caption")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY_COLUMNS = ("file", "filename", "file_name", "image", "photo", "name")


@dataclass(frozen=True)
class PromptTemplate:
    """A named prompt/negative pair; either text may hold ``{variable}`` fields."""

    name: str
    prompt: str
    negative: str = ""
    description: str = ""

    def fields(self) -> set[str]:
        return template_fields(self.prompt) | template_fields(self.negative)

    def fill(self, variables: Mapping[str, str]) -> tuple[str, str]:
        """(prompt, negative) with every field replaced; ``TemplateError`` if one has no value."""
        return fill_template(self.prompt, variables), fill_template(self.negative, variables)

    def to_dict(self) -> dict:
        return {"name": self.name, "prompt": self.prompt, "negative": self.negative,
                "description": self.description}


def template_fields(text: str) -> set[str]:
    """Names of the fields in ``text``; ``TemplateError`` for anything but a bare identifier."""
    fields: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:  # unbalanced braces
        raise TemplateError(f"Template {text!r} is malformed: {exc}. Use {{{{ and }}}} for literal braces.") from exc
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if "." in field or "[" in field:
            raise TemplateError(f"Template field {{{field}}} is not allowed: only plain names like {{name}}.")
        if conversion or spec:
            raise TemplateError(f"Template field {{{field}}} uses '!' or ':' options, which are not allowed.")
        if not _IDENTIFIER.match(field):
            shown = field or ""
            raise TemplateError(f"Template field {{{shown}}} is not a variable name (letters, digits, _).")
        fields.add(field)
    return fields


def fill_template(text: str, variables: Mapping[str, str]) -> str:
    """Replace each field of ``text`` with its value; values are inserted as plain text."""
    fields = template_fields(text)  # validates before anything is substituted
    missing = sorted(f for f in fields if f not in variables)
    if missing:
        raise TemplateError(f"Template variable(s) {', '.join('{' + m + '}' for m in missing)} have no value "
                            f"(known: {', '.join(sorted(variables))}).")
    parts: list[str] = []
    for literal, field, _spec, _conv in string.Formatter().parse(text):
        parts.append(literal)
        if field is not None:
            parts.append(str(variables[field]))
    return "".join(parts)


def name_from_path(path: Path | str) -> str:
    """A readable product name from a file name: 'red_mug-01.jpg' -> 'red mug 01'."""
    stem = Path(path).stem
    words = re.sub(r"[_\-.]+", " ", stem)
    words = re.sub(r"\s+", " ", words).strip()
    return words or stem


def photo_variables(path: Path | str, table: Optional[Mapping[str, Mapping[str, str]]] = None) -> dict[str, str]:
    """All variables for one photo: built-ins plus the CSV row for its file name (if any)."""
    path = Path(path)
    values = {"name": name_from_path(path), "stem": path.stem, "filename": path.name}
    row = lookup_row(table or {}, path)
    if row:
        values.update({k: v for k, v in row.items() if v is not None})
    values.setdefault("caption", values["name"])
    if not values["caption"]:
        values["caption"] = values["name"]
    return values


def lookup_row(table: Mapping[str, Mapping[str, str]], path: Path) -> Optional[Mapping[str, str]]:
    """The CSV row for ``path``: matched by full file name first, then by stem (case-insensitive)."""
    for key in (path.name, path.stem, path.name.lower(), path.stem.lower()):
        if key in table:
            return table[key]
    return None


def load_variables_csv(path: Path | str) -> dict[str, dict[str, str]]:
    """Read a CSV of per-photo variables keyed by file name.

    The key column is the first of file/filename/file_name/image/photo/name present, else the first
    column. Keys are stored as written and lower-cased, by full name and by stem.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or []) if c is not None]
            if not columns:
                raise TemplateError(f"{path.name}: the variables CSV has no header row.")
            lowered = {c.lower(): c for c in columns}
            key_col = next((lowered[k] for k in _KEY_COLUMNS if k in lowered), columns[0])
            bad = [c for c in columns if c != key_col and not _IDENTIFIER.match(c)]
            if bad:
                raise TemplateError(f"{path.name}: column name(s) {bad} cannot be template variables "
                                    "(use letters, digits and _).")
            table: dict[str, dict[str, str]] = {}
            for row in reader:
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
                key = row.get(key_col, "")
                if not key:
                    continue
                values = {k: v for k, v in row.items() if k != key_col and k}
                for alias in {key, Path(key).stem, key.lower(), Path(key).stem.lower()}:
                    table.setdefault(alias, values)
            return table
    except OSError as exc:
        raise TemplateError(f"Cannot read variables CSV {path}: {exc.strerror or exc}.") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path.name}: not a readable UTF-8 CSV ({exc}).") from exc


def load_templates(path: Path | str | None = None) -> dict[str, PromptTemplate]:
    """Templates by name from ``path`` (default: resources/templates.json)."""
    path = Path(path) if path is not None else TEMPLATES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"Cannot read templates file {path}: {exc.strerror or exc}.") from exc
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{path.name} is not valid JSON: {exc}.") from exc
    templates: dict[str, PromptTemplate] = {}
    for entry in data.get("templates", []):
        try:
            template = PromptTemplate(name=entry["name"], prompt=entry["prompt"],
                                      negative=entry.get("negative", ""),
                                      description=entry.get("description", ""))
        except (KeyError, TypeError) as exc:
            raise TemplateError(f"{path.name}: a template entry lacks 'name' or 'prompt' ({entry!r}).") from exc
        template.fields()  # fail on load, not halfway through a batch
        templates[template.name] = template
    return templates


def save_templates(templates: Iterable[PromptTemplate], path: Path | str) -> Path:
    """Write templates as JSON (used by the desktop's template panel for user templates)."""
    path = Path(path)
    for template in templates:
        template.fields()
    payload = {"version": 1, "templates": [t.to_dict() for t in templates]}
    from packshot.core.images import (
        write_atomic,  # Packshot's own temp name: a user's ".tmp-<name>" is never hit
    )

    # atomic: a crash never leaves half a templates file
    return write_atomic(path, (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def get_template(name: str, path: Path | str | None = None) -> PromptTemplate:
    templates = load_templates(path)
    if name not in templates:
        raise TemplateError(f"Unknown template '{name}'. Available: {', '.join(sorted(templates))}.")
    return templates[name]


def resolve_prompt(template: Optional[str], prompt: Optional[str], negative: Optional[str],
                   templates_path: Path | str | None = None) -> PromptTemplate:
    """The template a batch uses: a named one, optionally overridden by --prompt / --negative."""
    base = get_template(template, templates_path) if template else PromptTemplate("custom", "")
    return PromptTemplate(
        name=base.name if prompt is None else (f"{base.name}+prompt" if template else "custom"),
        prompt=base.prompt if prompt is None else prompt,
        negative=base.negative if negative is None else negative,
        description=base.description,
    )


def check_variables(template: PromptTemplate, photos: Iterable[Path],
                    table: Optional[Mapping[str, Mapping[str, str]]] = None) -> None:
    """Fail before any work if some photo lacks a value for a field the template uses."""
    fields = template.fields()
    if not fields:
        return
    known = set(BUILTIN_VARIABLES)
    for row in (table or {}).values():
        known.update(row)
    unknown = sorted(fields - known)
    if unknown:
        raise TemplateError(
            f"Unknown template variable(s) {', '.join('{' + u + '}' for u in unknown)}. Known: "
            f"{', '.join(sorted(known))}; add a column to the --vars CSV to define more.")
    for photo in photos:
        values = photo_variables(photo, table)
        missing = sorted(f for f in fields if not values.get(f))
        if missing:
            raise TemplateError(f"{Path(photo).name}: no value for {', '.join('{' + m + '}' for m in missing)} "
                                "in the --vars CSV.")
