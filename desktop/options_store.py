"""The job settings kept between sessions: a ``JobSettings`` in QSettings (group ``batch``).

What is written is ``JobSettings.to_dict()`` without the machine group (the device and models folder
are the app's, in ``AppSettings``, and command-line values never are saved). Schema 1 (the app's
former flat options) is read once and converted; a store written by a newer schema is left alone
and the defaults are used, so an older app never misreads a newer one's values.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any, Optional

from PySide6.QtCore import QSettings

from packshot.core.app_api import options as core_options
from packshot.core.jobs import JobSettings, MachineSettings

log = logging.getLogger(__name__)

SCHEMA = 2
GROUP = "batch"
# Schema 1 names that are not JobSettings' flat names.
_V1_RENAMED = {"render_quality": "quality"}
_V1_APP_ONLY = {"quality"}  # the export's JPEG quality: AppSettings.export_quality now


def _qsettings() -> QSettings:
    return QSettings("packshot", "packshot-studio")


def load_job_settings() -> Optional[JobSettings]:
    """The saved settings, or None when none are saved (or they come from a newer schema)."""
    store = _qsettings()
    store.beginGroup(GROUP)
    try:
        schema = int(store.value("schema", 0) or 0)
        raw = store.value("settings" if schema >= 2 else "options", "")
    finally:
        store.endGroup()
    if not schema or not raw:
        return None
    if schema > SCHEMA:
        log.warning("Saved job settings are of a newer version (%s > %s): using the defaults.", schema, SCHEMA)
        return None
    try:
        data = json.loads(raw)
        return JobSettings.from_dict(data) if schema >= 2 else from_v1(data)
    except (TypeError, ValueError) as exc:
        log.warning("Ignoring unreadable saved job settings: %s", exc)
        return None


def from_v1(data: dict[str, Any]) -> JobSettings:
    """The app's schema-1 options (flat, its own names) as ``JobSettings``; unknown names dropped."""
    known = {core_options.flat_name(f) for _, f, _ in core_options.leaves(JobSettings)}
    flat = {}
    for name, value in data.items():
        if name in _V1_APP_ONLY:  # checked before renaming: render_quality becomes quality
            continue
        name = _V1_RENAMED.get(name, name)
        if name in known and value not in ("", None):
            flat[name] = value
    if flat.get("shadow") == "none":
        flat["shadow"] = None
    return JobSettings.from_flat(flat)


def save_job_settings(settings: JobSettings) -> None:
    store = _qsettings()
    store.beginGroup(GROUP)
    store.setValue("schema", SCHEMA)
    kept = replace(settings, machine=MachineSettings())  # the app's, not the run's
    store.setValue("settings", json.dumps(kept.to_dict()))  # JSON: typed, one value
    store.remove("options")
    store.endGroup()
    store.sync()
