"""Which background engine a job runs: the one list of engines, and what "auto" means.

``resolve_engine`` is a pure function of the settings and the model store (no runtime, no model
loaded, nothing cached), so the CLI's ``JobContext`` and the app's engine menu give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from packshot.core.errors import PackshotError
from packshot.core.jobs.settings import CONTROLNET_MODEL, Engine, JobSettings

if TYPE_CHECKING:
    from packshot.core.models.store import ModelStore

# Engines that take --model (a ControlNet model folder): the others ignore it.
MODEL_ENGINES = (Engine.SI2_CONTROLNET.value, Engine.SD2_CONTROLNET.value)


def engine_choices() -> tuple[str, ...]:
    """Every engine name a job accepts, "auto" first: the CLI's --engine choices and the app's menu."""
    return Engine.values()


def generative_engines() -> tuple[str, ...]:
    """The engines that paint a prompt with a diffusion model (their weights must be downloaded)."""
    return tuple(e.value for e in Engine if e.generative)


@dataclass(frozen=True)
class ResolvedEngine:
    """The engine a job runs, and what the user should be told about the choice (why not the paper's)."""

    name: str
    notes: tuple[str, ...] = ()

    @property
    def generative(self) -> bool:
        return self.name in generative_engines()


def resolve_engine(settings: JobSettings, store: ModelStore) -> ResolvedEngine:
    """The engine ``settings`` run with the models in ``store``: an explicit engine as is; "auto" is
    the image engine for a background picture, colour for a colour, the paper's ControlNet engine
    when its weights are here, else white (with notes naming the missing weights)."""
    name, g = str(settings.engine), settings.generation
    if name not in engine_choices():
        raise PackshotError(f"Unknown engine '{name}'. Choose one of: {', '.join(engine_choices())}.")
    if name != Engine.AUTO:
        if name == Engine.IMAGE and not g.background_image:
            raise PackshotError("--engine image needs --background-image FILE.")
        return ResolvedEngine(name)
    # A background picture or a colour given without an engine says which engine is meant.
    if g.background_image:
        return ResolvedEngine("image", ("--background-image given without --engine: using the 'image' engine.",))
    from packshot.core.generation.settings import GenerationSettings

    if tuple(g.color) != GenerationSettings().color:
        return ResolvedEngine("color", ("--color given without --engine: using the 'color' engine.",))
    model = settings.model or CONTROLNET_MODEL
    if store.available(model):
        from packshot.core.generation.engines.sd2_controlnet import engine_for_model

        return ResolvedEngine(engine_for_model(store, model))  # si2-controlnet, or sd2-controlnet for such a model
    from packshot.core.masking.hints import mask_weights_missing, missing_weights_notes

    m = settings.masks
    missing = {} if m.masks_dir else mask_weights_missing(
        store, str(m.prior), str(m.masker), m.sam_variant, str(settings.machine.device))
    return ResolvedEngine("white", tuple(missing_weights_notes(background_model=model, **missing)))
