"""What the desktop app uses from core beyond ``packshot.core.jobs``, ``packshot.core.errors``, ``packshot.core.progress``,
``packshot.core.images`` and ``packshot.core.runtime``: one listed front door, so the app never reaches into internals.

Names load on first use (PEP 562 ``__getattr__``): importing this module costs nothing at the app's
start, and a name that is not listed here is an ``AttributeError``, not a reach past the door.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

# name -> the core module that defines it
_HOMES = {
    "DEVICE_CHOICES": "packshot.core.devices",  # the --device choices
    "PRESETS": "packshot.core.generation.presets",  # output size presets
    "apply_preset": "packshot.core.generation.presets",
    "auto_detail_text": "packshot.core.generation.detail",  # what --detail auto means for an engine on a device kind
    "FILE_ONLY": "packshot.core.logfile",  # the log file and its records
    "LOG_NAME": "packshot.core.logfile",
    "log_file": "packshot.core.logfile",
    "setup_file_logging": "packshot.core.logfile",
    "resize_mask": "packshot.core.masking.postprocess",  # a mask at another size (the review's canvas)
    "ModelStore": "packshot.core.models.store",
    "unique_stems": "packshot.core.naming",  # output stems, as the batch names them
    "STORE_DIRNAME": "packshot.core.project",  # the project store
    "STORE_FILENAME": "packshot.core.project",
    "PhotoRecord": "packshot.core.project",
    "ProjectStore": "packshot.core.project",
    "ResultRecord": "packshot.core.project",
    "Recipe": "packshot.core.recipe",
    "PromptTemplate": "packshot.core.templates",  # prompt templates and their variables
    "load_templates": "packshot.core.templates",
    "load_variables_csv": "packshot.core.templates",
    "photo_variables": "packshot.core.templates",
    "save_templates": "packshot.core.templates",
}
_MODULES = {"options": "packshot.core.options"}  # the settings' field metadata (labels, help, ranges, defaults)

__all__ = sorted([*_HOMES, *_MODULES, "install_root", "matting_needs_preparing", "matting_first_use_message",
                  "warm_up_matting", "device_kind"])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"packshot.core.app_api has no {name!r} (the app's door to core lists what it may use)")


def install_root() -> Path:
    """The folder holding the ``core`` package: the checkout (an editable install), or site-packages/packshot."""
    return Path(__file__).resolve().parents[1]


def matting_needs_preparing() -> bool:
    """Whether edge matting still has to compile its code (the first use on this machine)."""
    from packshot.core.generation import matting

    return matting.needs_preparing()


def matting_first_use_message() -> str:
    from packshot.core.generation import matting

    return matting.FIRST_USE_MESSAGE


def warm_up_matting() -> None:
    """Load (or compile) the edge-matting code now, so the first mask does not wait for it."""
    from packshot.core.generation import matting

    matting.warm_up()


def device_kind(preference: str = "auto") -> str:
    """"cuda", "mps" or "cpu": the device core renders on for ``preference`` (imports torch: call it off the
    GUI thread)."""
    from packshot.core.devices import pick_device

    return pick_device(preference).type
