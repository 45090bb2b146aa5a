"""The ONE place in the app that turns its choices into the ``packshot.core.jobs.JobSettings`` a job runs.

The Background step's controls are made from ``JobSettings`` itself (``packshot.desktop.settings_form``) and
read back as one; this module adds what a run needs beyond the panel: the machine group (the app's
device and models folder), the template named rather than copied when its text is unchanged, the
variables CSV, and "one image" for engines that paint no prompt (as core would note it).
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from packshot.core.images import write_atomic
from packshot.core.jobs import GENERATIVE_ENGINES, JobSettings, MachineSettings, PromptSettings
from packshot.desktop.settings import AppSettings

if TYPE_CHECKING:
    from packshot.desktop.workspace import Workspace


def prompt_settings(template: str, prompt: str, negative: str, *, template_names: Sequence[str] = (),
                    template_text: Optional[tuple[str, str]] = None,
                    variables_csv: Optional[str] = None) -> PromptSettings:
    """The prompt group: a named template stays a name in every recipe; an edited text is sent as a
    prompt of its own (``template_text``: the (prompt, negative) the named template has)."""
    name = template if template in template_names else None
    if name is not None and template_text is not None:
        if prompt.strip() == template_text[0].strip():
            prompt = ""
        if negative.strip() == template_text[1].strip():
            negative = ""
    return PromptSettings(template=name, prompt=prompt if prompt.strip() else None,
                          negative=negative if negative.strip() else None, variables_csv=variables_csv)


def machine_settings(app: AppSettings) -> MachineSettings:
    """The app's device and models folder (File ▸ Settings, or this session's command line)."""
    return MachineSettings(device=app.device, models_dir=str(app.models_path) if app.models_path else None)


def for_run(settings: JobSettings, app: AppSettings, workspace: Workspace,
            variables_csv: Optional[Path] = None) -> JobSettings:
    """``settings`` as a run of the app asks for them: the app's machine, the variables CSV, one
    image per photo for an engine that paints no prompt, and no background picture unless the
    'image' engine is chosen (core would only note them as having no effect)."""
    generative = is_generative(str(settings.engine), workspace, settings.model)
    generation = replace(settings.generation,
                         variants=settings.generation.variants if generative else 1,
                         background_image=settings.generation.background_image
                         if str(settings.engine) == "image" else None)
    prompt = replace(settings.prompt, variables_csv=str(variables_csv) if variables_csv else None)
    return replace(settings, generation=generation, prompt=prompt, machine=machine_settings(app))


def mask_settings(settings: JobSettings, app: AppSettings) -> JobSettings:
    """The settings automatic masks come from (the run's mask group), with an engine that needs no
    weights: masks made in the app then carry the origin the batch checks."""
    return JobSettings(engine="white", masks=settings.masks, machine=machine_settings(app))


def is_generative(engine: str, workspace: Workspace, model: Optional[str] = None) -> bool:
    """Whether ``engine`` paints from a prompt, resolving "auto" by core's rule (``Workspace.resolved_engine``)."""
    return workspace.resolved_engine(engine, model) in GENERATIVE_ENGINES


def write_variables_csv(target: Path, photos: Sequence[Path], values: dict[Path, dict[str, str]]) -> Optional[Path]:
    """The panel's variables (for all photos and per photo) as the CSV the batch reads (``--vars``),
    so the batch's own template-variable check and job key see them; None when there are none."""
    from packshot.core.app_api import photo_variables

    # The fields every photo has by itself (name, stem, filename, caption) are not the user's variables.
    automatic = set(photo_variables(Path(photos[0]), {})) if photos else set()
    columns = sorted({k for v in values.values() for k in v if k not in automatic})
    if not columns:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(["file"] + columns)
    for photo in photos:
        row = values.get(Path(photo), {})
        writer.writerow([Path(photo).name] + [row.get(c, "") for c in columns])
    return write_atomic(target, handle.getvalue().encode("utf-8"))  # Packshot's own temp name, never a user's


def project_settings(current: JobSettings, made: Optional[JobSettings]) -> JobSettings:
    """What the Background step shows for a project: the settings of its latest run ``made`` (what
    made its results), else ``current`` with the size preset back at its default: a preset is a
    project's (one client's marketplace), not carried into the next project."""
    from packshot.core.jobs import OutputSettings

    if made is not None:
        # Run-time choices of that run are not the project's: redo, the keep-both names, the machine.
        output = replace(made.output, redo=False, name_template=current.output.name_template)
        return replace(made, output=output, machine=current.machine)
    return replace(current, output=replace(current.output, preset=OutputSettings().preset))
