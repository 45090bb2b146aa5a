"""The job context the jobs of one run share: engine, masker, QC gate, templates, and the runtime
(``packshot.core.runtime.Runtime``) their models come from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from packshot.core.errors import PackshotError
from packshot.core.generation.settings import GenerationSettings
from packshot.core.images import output_format_for
from packshot.core.jobs.settings import (
    DEFAULT_GENERATIVE_TEMPLATE,
    GENERATIVE_ENGINES,
    JobSettings,
    Shadow,
    file_sha256,
)
from packshot.core.naming import check_name_template, output_suffix
from packshot.core.templates import (
    PromptTemplate,
    load_variables_csv,
    resolve_prompt,
)

if TYPE_CHECKING:
    from packshot.core.models.store import ModelStore
    from packshot.core.runtime import Runtime

_DEFAULT_GENERATION = GenerationSettings()


def _check_models_dir(settings: JobSettings, runtime: Runtime) -> None:
    """Settings naming one models folder and a runtime serving another is a caller's mistake: say so."""
    wanted = settings.machine.models_dir
    if wanted and runtime.store.models_dir != Path(wanted).expanduser().resolve():
        raise PackshotError(f"The settings use the models folder {wanted} but this runtime serves "
                            f"{runtime.store.models_dir}; make the runtime for that folder.")


class JobContext:
    """Everything the jobs of one run share. Heavy parts are built on first use.

    ``runtime`` owns the model store and the loaded models (the CLI and the app each make one and
    pass it; a training process or a Ray actor its own).
    """

    def __init__(self, settings: JobSettings, *, runtime: Runtime,
                 templates_path: Optional[Path] = None, render_device: Optional[str] = None) -> None:
        self.settings = settings
        self.runtime = runtime
        # The device kind the backgrounds are rendered on (a Ray stage is told its render actors'); it
        # decides what --detail auto means (packshot.core.generation.detail.resolve_detail) and is recorded.
        self._render_device = render_device
        _check_models_dir(settings, self.runtime)
        g, p = settings.generation, settings.prompt
        if g.variants < 1:
            raise PackshotError(f"--variants must be at least 1 (got {g.variants}).")
        if settings.qc.qc_retries < 0:
            raise PackshotError(f"--qc-retries must be 0 or more (got {settings.qc.qc_retries}).")
        self.variables = load_variables_csv(p.variables_csv) if p.variables_csv else {}
        check_name_template(settings.output.name_template)
        self.suffix = output_suffix(output_format_for(None, settings.output.output_format))  # "auto": per photo
        self.notes: list[str] = []
        self._check_model()
        self.engine_name = self._resolve_engine()
        self._note_unused()
        template_name, prompt = p.template, p.prompt
        if self.generative and not p.template and not (prompt or "").strip():
            # An empty prompt gives the model nothing to paint: fall back to the neutral studio look.
            template_name, prompt = DEFAULT_GENERATIVE_TEMPLATE, None
        self.template: PromptTemplate = resolve_prompt(template_name, prompt, p.negative, templates_path)
        if template_name != p.template:
            self.notes.append(f"No --template or --prompt given: using the '{template_name}' template "
                              f"(\"{self.template.prompt}\"). Choose another with --template or --prompt.")
        self._auto_mask_models: Optional[dict] = None
        # The template's texts and the CSV's content, not just their names: editing either redoes the photos.
        key_extra = {"template": self.template.to_dict(),
                     "variables": file_sha256(Path(p.variables_csv)) if p.variables_csv else None,
                     "masks": self._mask_models()}
        # The reference's content, not its name: another file there redoes the photos (no key changes without one).
        self.reference_sha256 = self._reference_sha256()
        if self.reference_sha256:
            key_extra["reference"] = self.reference_sha256
        # A downloaded upscaler changes the outputs (with none, the key stays what it was), and so does the
        # detail pass: the resolved pass is in the key (and the recipe), not the --detail asked for.
        self.upscaler_id = self._resolve_upscaler()
        self.detail = self._resolved_detail()
        self._upscaler_record: Optional[dict] = None
        if self.upscaler_id:
            key_extra["upscaler"] = self.upscaler_id
            if self.detail == "repaint":
                key_extra["detail"] = self.detail
        self.job_key = settings.job_key(self.engine_name, key_extra)
        self._engine: Any = None
        self._masker: Any = None
        self._gate: Any = None
        self._gate_built = False

    @property
    def variants(self) -> int:
        """Images per photo: a plain engine paints the same background for every seed, so it makes one."""
        return self.settings.generation.variants if self.generative else 1

    def _note_unused(self) -> None:
        """Settings the chosen engine ignores are said, not silently dropped."""
        s, g = self.settings, self.settings.generation
        engine = self.engine_name
        if not self.generative and g.variants > 1:
            self.notes.append(f"--variants {g.variants}: the '{engine}' engine paints the same background for "
                              "every seed, so each photo gets one file.")
        if not self.generative and (s.prompt.template or s.prompt.prompt or s.prompt.negative):
            self.notes.append(f"The '{engine}' engine paints no prompt: --template/--prompt/--negative are "
                              "recorded but have no effect on the images.")
        if engine != "color" and tuple(g.color) != _DEFAULT_GENERATION.color:
            self.notes.append(f"--color has no effect with the '{engine}' engine (it is for --engine color).")
        if engine == "flux2-klein":
            from packshot.core.generation.engines.flux2_klein import canvas_note, licence_note

            note = licence_note(s.model or "")
            if note:
                self.notes.append(note)
            if capped := canvas_note(g.resolution, str(g.quality)):  # the pipeline's ~1 MP cap, said not silent
                self.notes.append(capped)
            if g.steps > 8:
                self.notes.append(f"--steps {g.steps}: FLUX.2 [klein] 4B is step-distilled for 4 steps (--steps 4); "
                                  "more take longer and add little.")
        if engine != "image" and g.background_image:
            self.notes.append(f"--background-image has no effect with the '{engine}' engine "
                              "(it is for --engine image).")

    def _reference_sha256(self) -> Optional[str]:
        """sha256 of --reference for flux2-klein (recorded in every recipe; replay checks it), else None."""
        g = self.settings.generation
        if not g.reference:
            return None
        if self.engine_name != "flux2-klein":
            self.notes.append(f"--reference has no effect with the '{self.engine_name}' engine (it is for "
                              "--engine flux2-klein).")
            return None
        from packshot.core.images import load_photo

        load_photo(g.reference)  # ImageReadError naming the file, before any photo is worked on
        return file_sha256(Path(g.reference))

    def _reference_extra(self, g: GenerationSettings) -> dict:
        """The recipe's record of the reference (``extra.reference_sha256``), when there is one."""
        return {"extra": {**g.extra, "reference_sha256": self.reference_sha256}} if self.reference_sha256 else {}

    @property
    def model_store(self) -> ModelStore:
        """The runtime's store: where this context's models are looked for."""
        return self.runtime.store

    def _check_model(self) -> None:
        """--model must name a diffusers folder with a ControlNet (the paper's layout), known to the store."""
        model = self.settings.model
        if not model:
            return
        spec = self.model_store.spec(model)  # ModelMissingError naming the known models
        if str(self.settings.engine) == "flux2-klein":
            return  # a FLUX.2 [klein] folder: the engine checks it (and says so for a non-commercial one)
        if spec.kind != "diffusers" or "controlnet" not in spec.components:
            raise PackshotError(f"--model {model}: not a ControlNet model (a diffusers folder with a controlnet/ "
                                f"sub-folder, like photo-background-generation or one `packshot train` writes); "
                                "see `packshot models list`.")

    def check_prior(self) -> None:
        """An explicit learned ``--prior`` without its weights fails now, when masks will be computed."""
        if self.settings.masks.masks_dir:
            return
        from packshot.core.masking.prior import check_prior_weights

        check_prior_weights(str(self.settings.masks.prior), self.model_store,
                            str(self.settings.machine.device))  # size and the fix

    def _resolve_engine(self) -> str:
        """``packshot.core.jobs.engines.resolve_engine``: the same answer the app's engine menu shows."""
        from packshot.core.jobs.engines import resolve_engine

        resolved = resolve_engine(self.settings, self.model_store)
        self.notes.extend(resolved.notes)
        return resolved.name

    def _resolve_upscaler(self) -> Optional[str]:
        """The learned upscaler a generative engine enlarges backgrounds with (``packshot.core.generation.upscale``);
        None: bicubic (said in a note when ``--detail auto`` finds none). An explicit one that is missing
        fails now, before any work."""
        from packshot.core.generation.upscale import UPSCALED_ENGINES, missing_note, resolve_upscaler

        if self.engine_name not in UPSCALED_ENGINES:
            return None
        g, device = self.settings.generation, self.render_device
        upscaler = resolve_upscaler(self.model_store, g, device)
        if upscaler is None and (note := missing_note(self.model_store, g, device)):
            self.notes.append(note)
        from packshot.core.generation.detail import REPAINT_ENGINES

        if str(g.detail) == "repaint" and self.engine_name not in REPAINT_ENGINES:
            self.notes.append(f"--detail repaint is for {' and '.join(REPAINT_ENGINES)}: the '{self.engine_name}' "
                              "engine's backgrounds are upscaled only.")
        return upscaler

    @property
    def render_device(self) -> str:
        """"cpu", "cuda" or "mps": the given one, else this process's choice (asked on first use: torch)."""
        if self._render_device is None:
            from packshot.core.devices import pick_device

            self._render_device = pick_device(str(self.settings.machine.device)).type
        return self._render_device

    def _resolved_detail(self) -> str:
        """The pass the backgrounds get ("off", "upscale", "repaint"; never "auto"): what is rendered and recorded."""
        from packshot.core.generation.detail import resolve_detail

        g = self.settings.generation
        if not self.upscaler_id:
            return "off"
        return resolve_detail(str(g.detail), self.engine_name, self.render_device, str(g.quality))

    def _mask_models(self) -> Optional[dict]:
        """Which models the automatic masks come from: masks change when weights appear, so does the key."""
        if self.settings.masks.masks_dir:
            return None  # reviewed masks from files
        return self.auto_mask_models()

    def auto_mask_models(self) -> dict:
        """The models an automatic mask of this context comes from (stored with the mask: while they
        stay the same, a re-run with other generation settings reuses the mask instead of recomputing)."""
        if self._auto_mask_models is None:
            from packshot.core.masking.prior import resolve_prior

            m = self.settings.masks
            sam = m.masker == "sam" or (m.masker == "auto" and self._sam_available())
            self._auto_mask_models = {"sam": m.sam_variant if sam else None,
                                      "prior": resolve_prior(str(m.prior), self.model_store,
                                                             str(self.settings.machine.device))[0]}
        return self._auto_mask_models

    def _sam_available(self) -> bool:
        try:
            return bool(self.model_store.available(f"sam-{self.settings.masks.sam_variant}"))
        except PackshotError:
            return False

    @property
    def shadow_kind(self) -> Optional[str]:
        """The synthetic shadow to draw, as ``render_images`` and recipes name it (None: no shadow)."""
        shadow = self.settings.shadow
        return None if shadow in (None, Shadow.NONE) else str(shadow)

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
        check_device = getattr(engine, "check_device", None)  # flux2-klein: refused on a CPU, in one line
        if check_device is not None:
            check_device(self.settings.generation)

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from packshot.core.generation.engines import engine_for

            self._engine = engine_for(self.runtime, self.engine_name, self.settings.machine.device,
                                      model=self.settings.model)
        return self._engine

    @property
    def masker(self) -> Any:
        if self._masker is None:
            from packshot.core.masking.maskers import build_masker

            m = self.settings.masks
            self._masker = build_masker(str(m.masker), self.runtime, m.sam_variant,
                                        self.settings.machine.device, prior=str(m.prior))
        return self._masker

    @property
    def gate(self) -> Any:
        """The QC gate, or None when QC does not apply (non-generative engine and no threshold)."""
        if not self._gate_built:
            self._gate_built = True
            q = self.settings.qc
            if self.generative or q.qc_threshold is not None:
                from packshot.core.quality.qc import QCSettings, QualityGate

                qc = QCSettings(retries=q.qc_retries) if q.qc_threshold is None else \
                    QCSettings(threshold=q.qc_threshold, retries=q.qc_retries)
                self._gate = QualityGate(self._resegmenter(), qc)
        return self._gate

    def _resegmenter(self) -> Any:
        """SAM prompted from the input mask when its weights are here, else the classic prior."""
        from packshot.core.quality.resegment import build_resegmenter

        return build_resegmenter("auto", self.runtime, sam_variant=self.settings.masks.sam_variant,
                                 device=self.settings.machine.device)

    def generation_settings(self, prompt: str, negative: str, seeds: Optional[Sequence[int]] = None) -> Any:
        """The job's ``GenerationSettings`` for one photo: its filled prompt and its variants' seeds."""
        g = self.settings.generation
        if seeds is None:
            seeds = [g.seed + i for i in range(self.variants)]
        # A final render records the pass it ran, not "auto"; a preview keeps what was asked (no pass ran:
        # rendered at final quality later, it resolves then).
        ran = {"detail": self.detail, "upscaler": self.upscaler_id} if str(g.quality) == "final" and \
            self.generative else {}
        return replace(g, prompt=prompt, negative_prompt=negative, seed=seeds[0], variants=len(seeds),
                       seeds=tuple(seeds), **self._reference_extra(g), **ran)

    def model_info(self) -> dict:
        if not self.generative:
            return {}
        info = {}
        for model_id in getattr(self.engine, "model_ids", ()):
            path = self.model_store.locate(model_id)
            info[model_id] = {"revision": self.model_store.revision(model_id),  # "local": placed by hand
                              "path": str(Path(path).resolve()) if path else None}  # models_dir may be relative
        if self._upscaler_record is None:  # once per run: it may hash the weights
            ran = replace(self.settings.generation, upscaler=self.upscaler_id)  # the one resolved for render_device
            self._upscaler_record = self.engine.upscaler_record(ran, self.render_device) if self.upscaler_id else {}
        return {**info, **self._upscaler_record}  # the engine's model first: replay reads it from there

