"""The shared, per-process job context: engine, masker, QC gate, templates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from core.errors import PackshotError
from core.jobs.settings import (
    CONTROLNET_MODEL,
    DEFAULT_GENERATIVE_TEMPLATE,
    ENGINES,
    GENERATIVE_ENGINES,
    JobSettings,
    file_sha256,
)
from core.naming import check_name_template, output_suffix
from core.templates import (
    PromptTemplate,
    load_variables_csv,
    resolve_prompt,
)


class JobContext:
    """Everything the jobs of one process share. Heavy parts are built on first use."""

    def __init__(self, settings: JobSettings, *, model_store: Any = None,
                 templates_path: Optional[Path] = None) -> None:
        self.settings = settings
        self._model_store = model_store
        if settings.engine not in ENGINES:
            raise PackshotError(f"Unknown engine '{settings.engine}'. Choose one of: {', '.join(ENGINES)}.")
        if settings.variants < 1:
            raise PackshotError(f"--variants must be at least 1 (got {settings.variants}).")
        if settings.qc_retries < 0:
            raise PackshotError(f"--qc-retries must be 0 or more (got {settings.qc_retries}).")
        self.variables = load_variables_csv(settings.variables_csv) if settings.variables_csv else {}
        check_name_template(settings.name_template)
        self.suffix = output_suffix(settings.output_format)
        self.notes: list[str] = []
        self._check_model()
        self.engine_name = self._resolve_engine()
        template_name, prompt = settings.template, settings.prompt
        if self.generative and not settings.template and not (prompt or "").strip():
            # An empty prompt gives the model nothing to paint: fall back to the neutral studio look.
            template_name, prompt = DEFAULT_GENERATIVE_TEMPLATE, None
        self.template: PromptTemplate = resolve_prompt(template_name, prompt, settings.negative, templates_path)
        if template_name != settings.template:
            self.notes.append(f"No --template or --prompt given: using the '{template_name}' template "
                              f"(\"{self.template.prompt}\"). Choose another with --template or --prompt.")
        if not self.generative and (settings.template or settings.prompt):
            self.notes.append(f"The '{self.engine_name}' engine paints no prompt: --template/--prompt are recorded "
                              "but have no effect on the images.")
        self._auto_mask_models: Optional[dict] = None
        # The template's texts and the CSV's content, not just their names: editing either redoes the photos.
        self.job_key = settings.job_key(self.engine_name, {
            "template": self.template.to_dict(),
            "variables": file_sha256(Path(settings.variables_csv)) if settings.variables_csv else None,
            "masks": self._mask_models()})
        self._engine: Any = None
        self._masker: Any = None
        self._gate: Any = None
        self._gate_built = False

    @property
    def model_store(self) -> Any:
        if self._model_store is None:
            from core.models.store import ModelStore

            self._model_store = ModelStore(self.settings.models_dir)
        return self._model_store

    def _check_model(self) -> None:
        """--model must name a diffusers folder with a ControlNet (the paper's layout), known to the store."""
        model = self.settings.model
        if not model:
            return
        spec = self.model_store.spec(model)  # ModelMissingError naming the known models
        if spec.kind != "diffusers" or "controlnet" not in spec.components:
            raise PackshotError(f"--model {model}: not a ControlNet model (a diffusers folder with a controlnet/ "
                                f"sub-folder, like photo-background-generation or one `packshot train` writes); "
                                "see `packshot models list`.")

    def check_prior(self) -> None:
        """An explicit learned ``--prior`` without its weights fails now, when masks will be computed."""
        if self.settings.masks_dir:
            return
        from core.masking.prior import check_prior_weights

        check_prior_weights(self.settings.prior, self.model_store, self.settings.device)  # size and the fix

    def _resolve_engine(self) -> str:
        name = self.settings.engine
        if name != "auto":
            if name == "image" and not self.settings.background_image:
                raise PackshotError("--engine image needs --background-image FILE.")
            return name
        model = self.settings.model or CONTROLNET_MODEL
        if self.model_store.available(model):
            return "si2-controlnet"
        from core.masking.hints import mask_weights_missing, missing_weights_notes

        missing = {} if self.settings.masks_dir else mask_weights_missing(
            self.model_store, self.settings.prior, self.settings.masker, self.settings.sam_variant, self.settings.device)
        self.notes.extend(missing_weights_notes(background_model=model, **missing))
        return "white"

    def _mask_models(self) -> Optional[dict]:
        """Which models the automatic masks come from: masks change when weights appear, so does the key."""
        if self.settings.masks_dir:
            return None  # reviewed masks from files
        return self.auto_mask_models()

    def auto_mask_models(self) -> dict:
        """The models an automatic mask of this context comes from (stored with the mask: while they
        stay the same, a re-run with other generation settings reuses the mask instead of recomputing)."""
        if self._auto_mask_models is None:
            from core.masking.prior import resolve_prior

            sam = self.settings.masker == "sam" or (self.settings.masker == "auto" and self._sam_available())
            self._auto_mask_models = {"sam": self.settings.sam_variant if sam else None,
                                      "prior": resolve_prior(self.settings.prior, self.model_store,
                                                             self.settings.device)[0]}
        return self._auto_mask_models

    def _sam_available(self) -> bool:
        try:
            return bool(self.model_store.available(f"sam-{self.settings.sam_variant}"))
        except PackshotError:
            return False

    @property
    def generative(self) -> bool:
        return self.engine_name in GENERATIVE_ENGINES

    def check_models(self) -> None:
        """Fail before any work when an explicitly chosen engine lacks its weights."""
        if not self.generative:
            return
        engine = self.engine
        for model_id in getattr(engine, "model_ids", ()):
            self.model_store.path(model_id)  # raises ModelMissingError with size and the fix

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from core.generation.engines import get_engine

            self._engine = get_engine(self.engine_name, self.model_store, self.settings.device,
                                      model=self.settings.model)
        return self._engine

    @property
    def masker(self) -> Any:
        if self._masker is None:
            from core.masking.maskers import build_masker

            self._masker = build_masker(self.settings.masker, self.model_store, self.settings.sam_variant,
                                        self.settings.device, prior=self.settings.prior)
        return self._masker

    @property
    def gate(self) -> Any:
        """The QC gate, or None when QC does not apply (non-generative engine and no threshold)."""
        if not self._gate_built:
            self._gate_built = True
            if self.generative or self.settings.qc_threshold is not None:
                from core.quality.qc import QCSettings, QualityGate

                qc = QCSettings(retries=self.settings.qc_retries) if self.settings.qc_threshold is None else \
                    QCSettings(threshold=self.settings.qc_threshold, retries=self.settings.qc_retries)
                self._gate = QualityGate(self._resegmenter(), qc)
        return self._gate

    def _resegmenter(self) -> Any:
        """SAM prompted from the input mask when its weights are here, else the classic prior."""
        from core.quality.resegment import build_resegmenter

        return build_resegmenter("auto", self.model_store, sam_variant=self.settings.sam_variant,
                                 device=self.settings.device)

    def generation_settings(self, prompt: str, negative: str, seeds: Optional[Sequence[int]] = None) -> Any:
        from core.generation.settings import GenerationSettings

        s = self.settings
        variants = len(seeds) if seeds is not None else s.variants
        return GenerationSettings(prompt=prompt, negative_prompt=negative, steps=s.steps, guidance=s.guidance,
                                  controlnet_scale=s.controlnet_scale, seed=s.seed if seeds is None else seeds[0],
                                  variants=variants, scheduler=s.scheduler, resolution=s.resolution,
                                  seeds=tuple(seeds) if seeds is not None else None, color=tuple(s.color),
                                  background_image=s.background_image)

    def model_info(self) -> dict:
        if not self.generative:
            return {}
        info = {}
        for model_id in getattr(self.engine, "model_ids", ()):
            path = self.model_store.locate(model_id)
            info[model_id] = {"revision": self.model_store.revision(model_id),  # "local": placed by hand
                              "path": str(Path(path).resolve()) if path else None}  # models_dir may be relative
        return info

