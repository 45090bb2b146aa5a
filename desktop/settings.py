"""User settings stored as JSON in the platformdirs config folder (no Qt, no torch).

JSON rather than QSettings so the file is readable, diffable and testable without a QApplication;
tests isolate it by pointing ``XDG_CONFIG_HOME``/``HOME`` at a temporary folder.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

import platformdirs

log = logging.getLogger(__name__)

APP_NAME = "packshot"
DEVICES = ("auto", "cuda", "mps", "cpu")  # packshot.core.devices.DEVICE_CHOICES (no core import at start-up)
MAX_RECENT = 8


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME))


@dataclass
class AppSettings:
    """What the app remembers between runs besides the job settings. Unknown keys in the file (the
    job defaults older versions kept here) are ignored."""

    models_dir: str = ""  # empty = the model store's default (platformdirs data dir / HF cache)
    device: str = "auto"
    # The job settings (engine, template, steps, ...) are a ``JobSettings`` of their own, kept by
    # ``packshot.desktop.options_store``: no default of core is copied here.
    export_quality: int = 95  # JPEG / WebP quality of exports (an export choice, not a job setting)
    first_run_done: bool = False
    recent_folders: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Values given for this run only (command-line options): name -> the saved value they
        # stand in for. Not a dataclass field, so it is never written, compared or copied.
        self._session_only: dict[str, Any] = {}

    @property
    def models_path(self) -> Optional[Path]:
        return Path(self.models_dir).expanduser() if self.models_dir else None

    def override(self, name: str, value: Any) -> None:
        """Use ``value`` for this run without saving it (``--models-dir``, ``--device``)."""
        self._session_only.setdefault(name, getattr(self, name))
        setattr(self, name, value)

    def choose(self, name: str, value: Any) -> None:
        """The user set ``name`` in the app (settings or models dialog): save it from now on."""
        self._session_only.pop(name, None)
        setattr(self, name, value)

    def is_overridden(self, name: str) -> bool:
        return name in self._session_only

    def saved_dict(self) -> dict[str, Any]:
        """What goes into settings.json: the user's own values, not this run's command-line ones."""
        data = asdict(self)
        data.update(self._session_only)
        return data

    def remember_folder(self, folder: Path | str) -> None:
        text = absolute_path(folder)
        self.recent_folders = [text] + [f for f in self.recent_folders if f != text][: MAX_RECENT - 1]


def absolute_path(path: Path | str) -> str:
    """Paths are stored absolute: a relative one would mean another folder from another directory."""
    return str(Path(path).expanduser().resolve())


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings(path: Optional[Path] = None) -> AppSettings:
    """Read the settings file; a missing or damaged file gives the defaults (and a log line)."""
    path = path or settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return AppSettings()
    except (OSError, ValueError) as exc:
        log.warning("Ignoring unreadable settings file %s: %s", path, exc)
        return AppSettings()
    known = {f.name for f in fields(AppSettings)}
    settings = AppSettings(**{k: v for k, v in raw.items() if k in known})
    if settings.device not in DEVICES:
        settings.device = "auto"
    return settings


def save_settings(settings: AppSettings, path: Optional[Path] = None) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a settings file."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(settings.saved_dict(), fh, indent=2)
    os.replace(tmp, path)
    return path
