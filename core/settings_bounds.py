"""What a setting's value may be: ranges with units, ids, devices, text lengths.

A settings field declares its bounds once, in its ``option(...)`` (``packshot.core.options``): ``bounds=Range(1,
200, "denoising steps")``, ``check=model_id_problem``, ``max_length=...``. The same declaration is
checked when any settings object is built (the CLI, the app, a project store, a recipe being replayed)
and printed in ``--help``. Each check returns None for a good value, else the problem in words
("10 is out of range: 0 to 0.1 (a fraction of the image diagonal)"), which callers prefix with the
setting's name: the CLI flag, or the recipe field.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Any, Optional

SEED_MAX = 2**32 - 1  # torch.Generator.manual_seed and QC's retry seeds stay in 32 bits
MAX_PROMPT_CHARS = 100_000  # CLIP reads 77 tokens; far beyond that is a mistake (or a hostile recipe)
MAX_NAME_CHARS = 200  # template names, model ids
MAX_PATH_CHARS = 4096  # PATH_MAX on Linux

# A model id names one folder inside a models folder (or a manifest entry): letters, digits, ``. _ - +``,
# no separators, not starting with a dot, so it can never be ``..`` or reach outside that folder.
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:[0-9]{1,2})?", re.IGNORECASE)


def _number(value: Any) -> str:
    """A bound or value as people write it: 0.1, 200, 4294967295 (no 1e-01, no 200.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Range:
    """Inclusive ``lo`` .. ``hi`` in ``unit`` (said in --help and in every refusal); ``multiple_of`` for
    sizes the models need in steps (8 pixels)."""

    lo: float
    hi: float
    unit: str = ""
    multiple_of: Optional[int] = None

    def describe(self, *, step: bool = True) -> str:
        """``0 to 0.1 (a fraction of the image diagonal)``; ``step``: say the multiple too."""
        parts = [p for p in (self.unit, f"a multiple of {self.multiple_of}" if step and self.multiple_of else "") if p]
        return f"{_number(self.lo)} to {_number(self.hi)}" + (f" ({', '.join(parts)})" if parts else "")

    def problem(self, value: Any) -> Optional[str]:
        """None when ``value`` (a number, or nested tuples of numbers such as colours) lies inside."""
        if isinstance(value, (tuple, list)):
            return next((p for p in (self.problem(v) for v in value) if p), None)
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            return f"{value!r} is not a number"
        if math.isnan(value) or not self.lo <= value <= self.hi:
            return f"{_number(value)} is out of range: {self.describe()}"
        if self.multiple_of and value % self.multiple_of:
            return f"{_number(value)} is not a multiple of {self.multiple_of}: {self.describe(step=False)}"
        return None


def type_problem(value: Any, kind: Any) -> Optional[str]:
    """None when ``value`` has the field's type (``kind``: int, float, str, bool, tuple, dict); an int is
    a float, a path is a str; a bool is never a number."""
    if kind is bool:
        ok = isinstance(value, bool)
        want = "true or false"
    elif kind is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        want = "a whole number"
    elif kind is float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        want = "a number"
    elif kind is str:
        import os

        ok = isinstance(value, (str, os.PathLike))
        want = "text"
    elif kind is tuple:
        ok = isinstance(value, (tuple, list))
        want = "a list"
    elif kind is dict:
        ok = isinstance(value, dict)
        want = "a mapping"
    else:
        return None
    return None if ok else f"{_shown(value)} is not {want}"


def shape_problem(value: Any, shape: tuple[int, ...]) -> Optional[str]:
    """None when ``value`` is nested lists/tuples of exactly ``shape`` (a colour: (3,); a gradient: (2, 3))."""
    if not shape:
        return None if not isinstance(value, (tuple, list)) else f"{_shown(value)} is not a number"
    if not isinstance(value, (tuple, list)) or len(value) != shape[0]:
        return f"{_shown(value)} is not a list of {shape[0]}"
    return next((p for p in (shape_problem(v, shape[1:]) for v in value) if p), None)


def whole_numbers_problem(value: Any) -> Optional[str]:
    """None when every number in ``value`` (nested tuples: colours, seeds) is a whole number."""
    if isinstance(value, (tuple, list)):
        return next((p for p in map(whole_numbers_problem, value) if p), None)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return None
    return f"{_shown(value)} is not a whole number"


def length_problem(value: Any, limit: int) -> Optional[str]:
    if isinstance(value, str) and len(value) > limit:
        return f"of {len(value)} characters is too long: at most {limit}"
    return None


def model_id_problem(value: Any) -> Optional[str]:
    """A model id is an id: one folder name, resolved only through the model store."""
    if not isinstance(value, str):
        return f"{_shown(value)} is not a model id"
    if len(value) > MAX_NAME_CHARS or not _MODEL_ID.fullmatch(value):
        return (f"{_shown(value)} is not a model id (letters, digits and . _ - +, no folder separators "
                "or '..'; see `packshot models list`)")
    return None


def sam_variant_problem(value: Any) -> Optional[str]:
    """``vit_b``/``vit_l``/``vit_h`` or a ``sam-*`` model id: an id either way (it names a model folder)."""
    return model_id_problem(value)


def device_problem(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        return f"{_shown(value)} is not a device: auto, cpu, mps, cuda or cuda:N"
    return None


def _shown(value: Any, limit: int = 60) -> str:
    """A value quoted for a one-line message, cut short (a hostile recipe may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shown(value: Any) -> str:
    return _shown(value)
