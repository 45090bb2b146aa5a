"""Settings dataclasses that describe themselves: help text, CLI flag, parser and job-key role per field.

One field, declared once with ``option(...)``, gives the argparse option (``add_arguments``), the
value read back from the parsed namespace (``from_namespace``), the JSON form (``to_dict`` /
``from_dict``) and the flat v1 name used by older project stores and the job key (``flat_items``).
A field whose type is itself a settings dataclass is a nested group.

Bounds are declared in the same ``option(...)`` (``bounds=Range(...)``, ``choices``, ``check``,
``max_length``, ``shape``; see ``packshot.core.settings_bounds``) and checked whenever a settings object is
built (``coerce_fields``, which every settings class calls in ``__post_init__``), so the CLI, the app,
project stores and replayed recipes refuse the same values with the same one-line message; ``--help``
prints each range with its unit.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import functools
import typing
from collections.abc import Callable, Iterator
from typing import Any, Optional

from packshot.core.errors import SettingError
from packshot.core.settings_bounds import Range, length_problem, shape_problem, shown, type_problem

_UNSET: Any = dataclasses.MISSING


class Choice(str, enum.Enum):
    """A settings choice: compares, hashes, prints and serialises as its value (``"white"``)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    def __hash__(self) -> int:  # Enum hashes the member's name; a choice must find its value's dict entries
        return str.__hash__(self)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)


def option(default: Any = _UNSET, *, help: str, flag: Any = None, parse: Optional[Callable[[str], Any]] = None,
           metavar: Optional[str] = None, choices: Optional[tuple[str, ...]] = None, cli: bool = True,
           in_key: bool = True, flat: Optional[str] = None, off_flag: Optional[str] = None,
           off_help: Optional[str] = None, default_factory: Any = _UNSET, bounds: Optional[tuple[float, float]] = None,
           unit: str = "", multiple_of: Optional[int] = None, check: Optional[Callable[[Any], Optional[str]]] = None,
           max_length: Optional[int] = None, shape: Optional[tuple[int, ...]] = None) -> Any:
    """A dataclass field with its documentation. ``flag``: the CLI spelling(s) (default ``--field-name``);
    ``cli=False``: not a command-line option (say why in ``help``); ``in_key=False``: a run-time choice
    left out of the job key; ``flat``: the name in flat (v1) settings dicts, ``""`` for none.

    What a value may be: ``bounds`` (lowest, highest; inclusive, for each number of the value) measured
    in ``unit`` and a ``multiple_of`` some step, ``choices``, ``check`` (a function returning the problem in words, or None), ``max_length`` (text),
    ``shape`` (nested tuples, e.g. (3,) for a colour). ``None`` is always allowed for ``Optional`` fields."""
    meta = {"help": help, "flag": flag, "parse": parse, "metavar": metavar, "choices": choices, "cli": cli,
            "in_key": in_key, "flat": flat, "off_flag": off_flag, "off_help": off_help,
            "range": tuple(bounds) if bounds is not None else None, "unit": unit, "multiple_of": multiple_of,
            "check": check, "max_length": max_length, "shape": shape}
    if default_factory is not _UNSET:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The class's resolved annotations (cached: every settings object built checks its fields)."""
    return typing.get_type_hints(cls)


def _base_type(hint: Any) -> Any:
    """``Optional[X]`` -> X; ``tuple[...]`` -> tuple; anything else unchanged."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin is typing.Union and len(args) == 1:
        return _base_type(args[0])
    return origin or hint


def is_group(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def default_of(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default  # type: ignore[misc]


def leaves(cls: type, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dataclasses.Field, Any]]:
    """Every non-group field of a settings class, depth first: (path, field, type)."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if is_group(hint):
            yield from leaves(hint, prefix + (f.name,))
        else:
            yield prefix + (f.name,), f, _base_type(hint)


def flat_name(f: dataclasses.Field) -> str:
    name = f.metadata.get("flat")
    return f.name if name is None else name


def get_path(obj: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        obj = getattr(obj, name)
    return obj


def coerce(value: Any, kind: Any, where: str) -> Any:
    """A JSON or CLI value as the field's type (enums from their value, lists to tuples)."""
    if value is None:
        return None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"{where}: '{value}' is not one of {', '.join(m.value for m in kind)}.") from None
    if kind is tuple and isinstance(value, (list, tuple)):  # anything else is refused by check_value
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def plain(value: Any) -> Any:
    """JSON-friendly: enums as values, tuples as lists."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def to_dict(obj: Any) -> dict:
    """Nested JSON-friendly dict of a settings object."""
    out: dict[str, Any] = {}
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        out[f.name] = to_dict(value) if is_group(hints[f.name]) else plain(value)
    return out


def from_dict(cls: type, data: dict) -> Any:
    """The inverse of ``to_dict``; unknown keys are an error that names them."""
    hints = _hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}.")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if is_group(hint):
            kwargs[name] = from_dict(hint, value or {})
        else:
            kwargs[name] = coerce(value, _base_type(hint), f"{cls.__name__}.{name}")
    return cls(**kwargs)


def cli_flags(f: dataclasses.Field) -> tuple[str, ...]:
    flag = f.metadata.get("flag")
    if flag is None:
        return ("--" + f.name.replace("_", "-"),)
    return (flag,) if isinstance(flag, str) else tuple(flag)


def cli_leaves(cls: type) -> Iterator[tuple[tuple[str, ...], dataclasses.Field, Any]]:
    return ((p, f, k) for p, f, k in leaves(cls) if f.metadata.get("cli", False))


def add_arguments(parser: argparse.ArgumentParser, cls: type, *, groups: Optional[dict[str, str]] = None,
                  only: Optional[set[str]] = None) -> None:
    """Add one option per CLI field of ``cls`` (dest = its flat name). ``groups`` maps a top-level
    group field (or "" for top-level fields) to an argparse group title; ``only`` limits to flat names."""
    made: dict[str, Any] = {}
    for path, f, kind in cli_leaves(cls):
        dest = flat_name(f)
        if only is not None and dest not in only:
            continue
        title = (groups or {}).get(path[0] if len(path) > 1 else "", None)
        target = parser
        if title:
            target = made.setdefault(title, parser.add_argument_group(title))
        _add_one(target, f, kind, dest)


def range_of(f: dataclasses.Field) -> Optional[Range]:
    """The field's declared range with its unit, or None."""
    meta = f.metadata
    if meta.get("range") is None:
        return None
    lo, hi = meta["range"]
    return Range(lo, hi, meta.get("unit") or "", meta.get("multiple_of"))


def help_text(f: dataclasses.Field) -> str:
    """The field's help, with its range and unit when it has one (``--help``, the app's tooltips)."""
    bounds = range_of(f)
    return f"{f.metadata['help']}; range {bounds.describe()}" if bounds else f.metadata["help"]


def _add_one(target: Any, f: dataclasses.Field, kind: Any, dest: str) -> None:
    meta, default = f.metadata, default_of(f)
    helptext = help_text(f).replace("%", "%%")
    if kind is bool:
        if meta.get("off_flag"):
            both = target.add_mutually_exclusive_group()
            both.add_argument(meta["off_flag"], dest=dest, action="store_false", default=default,
                              help=(meta.get("off_help") or "").replace("%", "%%") or argparse.SUPPRESS)
            both.add_argument(*cli_flags(f), dest=dest, action="store_true", help=helptext)
        else:
            target.add_argument(*cli_flags(f), dest=dest, action="store_true", default=default, help=helptext)
        return
    kwargs: dict[str, Any] = {"dest": dest, "help": helptext, "default": plain(default)}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        kwargs["choices"] = [m.value for m in kind]
    elif meta.get("choices"):
        kwargs["choices"] = list(meta["choices"])
    if meta.get("parse"):
        kwargs["type"] = meta["parse"]
    elif kind in (int, float):
        kwargs["type"] = kind
    if meta.get("metavar"):
        kwargs["metavar"] = meta["metavar"]
    target.add_argument(*cli_flags(f), **kwargs)


def from_namespace(cls: type, args: argparse.Namespace) -> Any:
    """Build ``cls`` from parsed options (absent ones keep their defaults)."""
    return _build(cls, lambda f: getattr(args, flat_name(f), _UNSET))


def from_flat(cls: type, data: dict) -> Any:
    """Build ``cls`` from a flat dict keyed by the flat names (v1 project stores, old callers).
    Unknown keys are an error naming them."""
    names = {flat_name(f) for _, f, _ in leaves(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}.")
    return _build(cls, lambda f: data.get(flat_name(f), _UNSET) if flat_name(f) else _UNSET)


def _build(cls: type, lookup: Callable[[dataclasses.Field], Any]) -> Any:
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if is_group(hint):
            kwargs[f.name] = _build(hint, lookup)
            continue
        value = lookup(f)
        if value is not _UNSET:
            kwargs[f.name] = coerce(value, _base_type(hint), f"{cls.__name__}.{f.name}")
    return cls(**kwargs)


def flat_items(obj: Any) -> Iterator[tuple[str, dataclasses.Field, Any]]:
    """(flat name, field, value) of every field that has a flat name."""
    for path, f, _ in leaves(type(obj)):
        if flat_name(f):
            yield flat_name(f), f, get_path(obj, path)


def setting_name(f: dataclasses.Field) -> str:
    """How a message names a setting: its command-line flag, else its field name."""
    return cli_flags(f)[0] if f.metadata.get("cli", True) else f.name


def coerce_fields(obj: Any) -> None:
    """Give a just-built settings object its declared types in place (``"white"`` -> ``Engine.WHITE``,
    JSON lists -> tuples, ints -> floats), then check every value against its declared bounds: a bad
    value raises ``SettingError`` (a ``ValueError``) naming the setting and what it may be."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        hint = hints[f.name]
        if is_group(hint):
            if not isinstance(getattr(obj, f.name), hint):
                raise SettingError(f.name, f"{shown(getattr(obj, f.name))} is not a {hint.__name__}")
            continue
        value = getattr(obj, f.name)
        kind = _base_type(hint)
        if isinstance(kind, type) and issubclass(kind, enum.Enum) and value is not None \
                and not isinstance(value, kind):
            try:
                value = kind(value)
            except (ValueError, TypeError):
                choices = ", ".join(m.value for m in kind)
                raise refusal(f, f"{shown(value)} is unknown: choose one of {choices}",
                              f"Unknown {f.name.replace('_', ' ')} {shown(value)}: choose one of {choices}.") from None
        elif kind is tuple and isinstance(value, list):
            value = coerce(value, kind, f.name)
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        check_value(f, kind, value, optional=_is_optional(hint))
        object.__setattr__(obj, f.name, value)


def _is_optional(hint: Any) -> bool:
    return typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint)


def value_problem(f: dataclasses.Field, kind: Any, value: Any, *, optional: bool) -> Optional[str]:
    """What is wrong with ``value`` for the field ``f`` of type ``kind`` (None: nothing)."""
    if value is None:
        return None if optional else "is missing (null)"
    meta = f.metadata
    problem = type_problem(value, kind)
    if problem is None and meta.get("shape") is not None:
        problem = shape_problem(value, meta["shape"])
    if problem is None and range_of(f) is not None:
        problem = range_of(f).problem(value)  # type: ignore[union-attr]
    if problem is None and meta.get("choices") and value not in meta["choices"]:
        problem = f"{shown(value)} is unknown: choose one of {', '.join(meta['choices'])}"
    if problem is None and meta.get("max_length") is not None:
        problem = length_problem(value, meta["max_length"])
    if problem is None and meta.get("check") is not None:
        problem = meta["check"](value)
    return problem


def check_value(f: dataclasses.Field, kind: Any, value: Any, *, optional: bool = False) -> None:
    problem = value_problem(f, kind, value, optional=optional)
    if problem is not None:
        raise refusal(f, problem)


def refusal(f: dataclasses.Field, problem: str, message: Optional[str] = None) -> SettingError:
    """The error for a bad value of ``f``; ``.field`` is the field's name (a recipe names it so)."""
    error = SettingError(setting_name(f), problem, message)
    error.field = f.name  # type: ignore[attr-defined]
    return error


def check_namespace(cls: type, args: argparse.Namespace) -> None:
    """Check the parsed values of ``cls``'s options that a command added (``add_arguments(only=...)``)
    without building the settings object: the same bounds and messages as the settings themselves."""
    for _, f, kind in cli_leaves(cls):
        value = getattr(args, flat_name(f), _UNSET)
        if value is _UNSET:
            continue
        value = coerce(value, kind, f.name)
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            continue  # argparse's choices already hold it to the enum
        check_value(f, kind, value, optional=True)
