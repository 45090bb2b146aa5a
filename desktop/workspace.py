"""What the app's jobs share (no Qt): one per main window, handed to every job it submits.

- ``runtime``: core's ``Runtime`` for the app's models folder: the model store and every model
  loaded from it (the batch, a single photo, the masks, the export and the review all use it, so a
  model loads once for the whole app); replaced, and the old one unloaded, when the user switches
  models folder.
- the ``ProjectStore`` of each output folder (its SQLite connections are per thread);
- the mask contexts: one ``JobContext`` per mask settings, whose masker (and embedding cache) the
  review, the automatic masks and the batch's origin checks share;
- core's answers about engines ("auto" resolved, missing weights): asking the store is slow.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Optional

from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)


class Workspace:
    def __init__(self, models_dir: Optional[Path | str] = None) -> None:
        self._lock = threading.Lock()  # workers and the GUI thread both ask for stores and contexts
        self._models_dir = _normalised(models_dir)
        self.runtime = Runtime(self._models_dir)
        self._project_stores: dict[str, Any] = {}
        self._mask_contexts: dict[str, Any] = {}
        self._engine_answers: dict[tuple, Any] = {}

    # -- models ---------------------------------------------------------------------------------
    def models_changed(self, models_dir: Optional[Path | str]) -> None:
        """The models folder or its contents changed: ask core again; another folder gets a new
        runtime (the old one's models are unloaded: running jobs keep theirs until they finish)."""
        models_dir = _normalised(models_dir)
        with self._lock:
            self._mask_contexts.clear()  # SAM or a learned prior may be here now
            self._engine_answers.clear()
            if models_dir == self._models_dir:
                return
            old, self._models_dir = self.runtime, models_dir
            self.runtime = Runtime(models_dir)
        log.info("Models folder is now %s", models_dir or "the default")
        old.unload()

    def _probe_settings(self, engine: str, model: Optional[str]) -> Any:
        from packshot.core.jobs import JobSettings

        return JobSettings.from_flat(dict(engine=engine, model=model, masker="classic", prior="classic",
                                          models_dir=str(self._models_dir) if self._models_dir else None))

    def resolved_engine(self, engine: str, model: Optional[str] = None) -> str:
        """The engine core will run: "auto" resolved by ``packshot.core.jobs.engines.resolve_engine`` (the
        paper's engine when its weights are here, else white), as the CLI's jobs resolve it."""
        if engine != "auto":
            return engine
        key = ("resolved", engine, model)
        with self._lock:
            if key in self._engine_answers:
                return self._engine_answers[key]
        from packshot.core.jobs import resolve_engine

        name = resolve_engine(self._probe_settings(engine, model), self.runtime.store).name
        with self._lock:
            self._engine_answers[key] = name
        return name

    def missing_model_error(self, engine: str, model: Optional[str] = None) -> Optional[BaseException]:
        """Core's ``ModelMissingError`` for ``engine``'s weights, or None when they are here (core's
        pre-flight check, si2's fallback to the paper folder included)."""
        from packshot.core.errors import ModelMissingError
        from packshot.core.jobs import GENERATIVE_ENGINES, JobContext

        if engine == "auto" or engine not in GENERATIVE_ENGINES:
            return None  # "auto" falls back to white; the other engines need no weights
        key = ("missing", engine, model)
        with self._lock:
            if key in self._engine_answers:
                return self._engine_answers[key]
        error: Optional[BaseException] = None
        try:
            JobContext(self._probe_settings(engine, model), runtime=self.runtime).check_models()
        except ModelMissingError as exc:
            error = exc
        with self._lock:
            self._engine_answers[key] = error
        return error

    # -- the device ----------------------------------------------------------------------------
    def known_device_kind(self, preference: str) -> Optional[str]:
        """"cuda", "mps" or "cpu" for the device setting ``preference`` when known without probing (None: ask
        ``probe_device_kind`` on a worker: it imports torch)."""
        if preference == "cpu":
            return "cpu"
        with self._lock:
            return self._engine_answers.get(("device", preference))

    def probe_device_kind(self, preference: str) -> str:
        """Core's device for ``preference`` (``pick_device``), remembered."""
        from packshot.core.app_api import device_kind

        kind = device_kind(preference)
        with self._lock:
            self._engine_answers[("device", preference)] = kind
        return kind

    # -- projects and masks ---------------------------------------------------------------------
    def project_store(self, out_dir: Path) -> Any:
        from packshot.core.app_api import ProjectStore

        key = str(Path(out_dir).resolve())
        with self._lock:
            if key not in self._project_stores:
                self._project_stores[key] = ProjectStore(key)
            return self._project_stores[key]

    def mask_context(self, mask_settings: Any) -> Any:
        """The ``JobContext`` whose masker the app uses for review and automatic masks: the batch's
        masker for the same settings, so the app's masks carry the origin the batch checks.

        Built on first use by whichever worker thread asks first; SAM maskers are safe to share (the
        embedding cache is thread-safe and encodes each photo once)."""
        from packshot.core.jobs import JobContext

        key = json.dumps(mask_settings.to_dict(), sort_keys=True, default=str)
        with self._lock:
            if key not in self._mask_contexts:
                self._mask_contexts[key] = JobContext(mask_settings, runtime=self.runtime)
            return self._mask_contexts[key]


def _normalised(models_dir: Optional[Path | str]) -> Optional[Path]:
    return Path(models_dir).expanduser().resolve() if models_dir else None
