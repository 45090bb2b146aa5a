"""The batch options kept between sessions, in QSettings (group ``batch``, with a schema version).

Only what the user chose in the app is written here; command-line options never are (they live in
``AppSettings``' session-only values). A store written by a newer schema is left alone and the
defaults are used, so an older app never misreads a newer one's values.
"""

from __future__ import annotations

import json
import logging
from typing import Optional

from PySide6.QtCore import QSettings

from desktop.batch_options import BatchOptions

log = logging.getLogger(__name__)

SCHEMA = 1
GROUP = "batch"


def _qsettings() -> QSettings:
    return QSettings("packshot", "packshot-studio")


def load_options(fallback: Optional[BatchOptions] = None) -> Optional[BatchOptions]:
    """The saved options, or ``fallback`` when none are saved (or they come from a newer schema)."""
    store = _qsettings()
    store.beginGroup(GROUP)
    try:
        schema = int(store.value("schema", 0) or 0)
        raw = store.value("options", "")
    finally:
        store.endGroup()
    if not schema or not raw:
        return fallback
    if schema > SCHEMA:
        log.warning("Saved batch options are of a newer version (%s > %s): using the defaults.", schema, SCHEMA)
        return fallback
    try:
        return BatchOptions.from_dict(json.loads(raw))
    except (TypeError, ValueError) as exc:
        log.warning("Ignoring unreadable saved batch options: %s", exc)
        return fallback


def save_options(options: BatchOptions) -> None:
    store = _qsettings()
    store.beginGroup(GROUP)
    store.setValue("schema", SCHEMA)
    store.setValue("options", json.dumps(options.to_dict(), default=list))  # JSON: typed, one value
    store.endGroup()
    store.sync()
