"""The job objects that the command line and the desktop app both drive.

``PhotoJob`` does one photo: read it -> mask -> engine.render -> composite -> preset -> QC ->
save (atomically, recipe inside) -> record in the project store. ``BatchJob`` prepares a folder
(validates everything before any work), hands out ``PhotoJob`` objects (this process's share when
several processes run) and runs them with progress and cancellation. The GUI's generation queue
calls ``PhotoJob.run`` one by one on its worker thread; the CLI calls ``BatchJob.run``. ``MaskJob`` is
the one masking loop (``packshot masks``, each photo of a batch, the app's masks); ``resolve_engine``
says what "auto" means, from the settings and the model store alone.

Maskers and the QC gate live in a ``JobContext`` shared by the jobs of a run; the models behind them
belong to the ``packshot.core.runtime.Runtime`` the context is given (the CLI and the app each make one), so
they load once.
"""

from __future__ import annotations

from packshot.core.jobs.batch import BatchJob
from packshot.core.jobs.context import JobContext
from packshot.core.jobs.engines import MODEL_ENGINES, ResolvedEngine, engine_choices, resolve_engine
from packshot.core.jobs.export import ExportJob as CoreExportJob
from packshot.core.jobs.export import ExportSettings
from packshot.core.jobs.keepers import keeper, keeper_files
from packshot.core.jobs.mask_job import MaskJob, MaskOutcome, MaskSummary
from packshot.core.jobs.masks import load_mask_file, quantize_mask, save_mask_atomic
from packshot.core.jobs.outcomes import BatchSummary, PhotoOutcome, PhotoPlan
from packshot.core.jobs.photo import PhotoJob
from packshot.core.jobs.preview import preview_shadow
from packshot.core.jobs.render import make_shadow, render_from_recipe, render_images
from packshot.core.jobs.settings import (
    CLI_GROUPS,
    CONTROLNET_MODEL,
    DEFAULT_DOUBT_SCORE,
    DEFAULT_GENERATIVE_TEMPLATE,
    ENGINES,
    GENERATIVE_ENGINES,
    LOCK_NAME,
    TMP_PREFIX,
    DoubtfulMasks,
    Engine,
    JobSettings,
    MachineSettings,
    Masker,
    MaskSettings,
    OutputSettings,
    Prior,
    PromptSettings,
    QualitySettings,
    Shadow,
    file_sha256,
)

__all__ = [
    "BatchJob",
    "BatchSummary",
    "CLI_GROUPS",
    "CONTROLNET_MODEL",
    "CoreExportJob",
    "DEFAULT_DOUBT_SCORE",
    "DEFAULT_GENERATIVE_TEMPLATE",
    "ExportSettings",
    "DoubtfulMasks",
    "ENGINES",
    "Engine",
    "GENERATIVE_ENGINES",
    "JobContext",
    "JobSettings",
    "LOCK_NAME",
    "MODEL_ENGINES",
    "MachineSettings",
    "MaskJob",
    "MaskOutcome",
    "MaskSettings",
    "MaskSummary",
    "Masker",
    "OutputSettings",
    "PhotoJob",
    "PhotoOutcome",
    "PhotoPlan",
    "Prior",
    "PromptSettings",
    "QualitySettings",
    "ResolvedEngine",
    "Shadow",
    "TMP_PREFIX",
    "engine_choices",
    "file_sha256",
    "keeper",
    "keeper_files",
    "load_mask_file",
    "make_shadow",
    "preview_shadow",
    "quantize_mask",
    "render_from_recipe",
    "render_images",
    "resolve_engine",
    "save_mask_atomic",
]
