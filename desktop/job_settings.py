"""The ONE place in the app that turns its choices into ``core.jobs.JobSettings``.

Everything the app submits (a batch, one photo, automatic masks) gets its settings from
``settings_from_ui``, so the app asks core for exactly what the command line would ask for.
It builds the flat dict of ``JobSettings``' field names (``JobSettings.from_flat`` takes the same
keys once settings are nested).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from desktop.batch_options import BatchOptions
from desktop.settings import AppSettings

if TYPE_CHECKING:
    from desktop.workspace import Workspace


def settings_from_ui(options: BatchOptions, app: AppSettings, workspace: Workspace, *,
                     template_names: Sequence[str] = (), template_text: Optional[tuple[str, str]] = None,
                     variables_csv: Optional[Path] = None) -> Any:
    """``JobSettings`` for ``options`` with the machine choices (device, models folder) of ``app``;
    ``workspace`` answers which engine "auto" is (the variants depend on it).

    ``template_names``: the templates core can resolve by name (built-in and the user's), so a named
    template stays a name in every recipe; ``template_text``: the (prompt, negative) the named
    template has, so an edited text is sent as a prompt of its own.
    ``variables_csv``: the per-photo values the panel holds, written by ``write_variables_csv``."""
    from core.jobs import JobSettings

    template = options.template if options.template in template_names else None
    prompt, negative = options.prompt, options.negative
    if template is not None and template_text is not None:
        # Unchanged text: send the name alone (the recipe says which template); edited: the text.
        if (prompt or "").strip() == template_text[0].strip():
            prompt = None
        if (negative or "").strip() == template_text[1].strip():
            negative = None
    flat = {
        "engine": options.engine,
        "template": template,
        "prompt": prompt if (prompt or "").strip() else None,
        "negative": negative if (negative or "").strip() else None,
        "variables_csv": str(variables_csv) if variables_csv else None,
        "variants": max(1, int(options.variants)) if is_generative(options.engine, workspace, options.model) else 1,
        "seed": int(options.seed),
        "steps": int(options.steps),
        "guidance": float(options.guidance),
        "controlnet_scale": float(options.controlnet_scale),
        "scheduler": options.scheduler,
        "resolution": int(options.resolution),
        "quality": options.render_quality if options.render_quality in ("final", "preview") else "final",
        "color": tuple(int(c) for c in options.color),
        "background_image": options.background_image if options.engine == "image" else None,
        "preset": options.preset,
        "shadow": None if options.shadow in ("", "none") else options.shadow,
        "masker": options.masker,
        "prior": options.prior,
        "sam_variant": options.sam_variant,
        "qc_threshold": options.qc_threshold,
        "qc_retries": int(options.qc_retries),
        "output_format": options.output_format,
        "device": app.device,
        "models_dir": str(app.models_path) if app.models_path else None,
        "model": options.model,
    }
    return JobSettings.from_flat(flat)


def mask_settings(options: BatchOptions, app: AppSettings, workspace: Workspace) -> Any:
    """The settings automatic masks come from (the batch's masker, prior and SAM variant), with an
    engine that needs no weights: masks made in the app then carry the origin the batch checks."""
    from dataclasses import replace

    base = BatchOptions(masker=options.masker, prior=options.prior, sam_variant=options.sam_variant)
    return replace(settings_from_ui(base, app, workspace), engine="white")


def is_generative(engine: str, workspace: Workspace, model: Optional[str] = None) -> bool:
    """Whether ``engine`` paints from a prompt, resolving "auto" by core's rule (``Workspace.resolved_engine``)."""
    from core.jobs import GENERATIVE_ENGINES

    return workspace.resolved_engine(engine, model) in GENERATIVE_ENGINES


def write_variables_csv(target: Path, photos: Sequence[Path], values: dict[Path, dict[str, str]]) -> Optional[Path]:
    """The panel's variables (for all photos and per photo) as the CSV the batch reads (``--vars``),
    so the batch's own template-variable check and job key see them; None when there are none."""
    from core.templates import photo_variables

    # The fields every photo has by itself (name, stem, filename, caption) are not the user's variables.
    automatic = set(photo_variables(Path(photos[0]), {})) if photos else set()
    columns = sorted({k for v in values.values() for k in v if k not in automatic})
    if not columns:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{target.name}")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file"] + columns)
        for photo in photos:
            row = values.get(Path(photo), {})
            writer.writerow([Path(photo).name] + [row.get(c, "") for c in columns])
    tmp.replace(target)
    return target
