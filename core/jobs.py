"""The job objects that the command line and the desktop app both drive.

``PhotoJob`` does one photo: read it -> mask -> engine.render -> composite -> preset -> QC ->
save (atomically, recipe inside) -> record in the project store. ``BatchJob`` prepares a folder
(validates everything before any work), hands out ``PhotoJob`` objects (this process's share when
several processes run) and runs them with progress and cancellation. The GUI's generation queue
calls ``PhotoJob.run`` one by one on its worker thread; the CLI calls ``BatchJob.run``.

Models, maskers and the QC gate live in a ``JobContext`` shared by all jobs of a process, so they
load once (engines are also cached per process by ``core.generation.engines``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

import numpy as np

from core.errors import Cancelled, ImageReadError, ImageWriteError, PackshotError, TemplateError
from core.images import Photo, list_photos, load_photo, save_image, write_atomic
from core.naming import DEFAULT_NAME_TEMPLATE, check_name_template, output_path, output_suffix, unique_stems
from core.progress import CancelToken, Progress, ProgressCallback, check, no_progress
from core.project import NewResult, ProjectStore
from core.recipe import Recipe, embeds_in_file, sidecar_path, text_chunks, write_sidecar
from core.templates import (
    PromptTemplate,
    check_variables,
    load_variables_csv,
    photo_variables,
    resolve_prompt,
)

log = logging.getLogger(__name__)

ENGINES = ("auto", "si2-controlnet", "si2", "white", "color", "gradient", "blur", "image")
GENERATIVE_ENGINES = ("si2-controlnet", "si2")
CONTROLNET_MODEL = "photo-background-generation"
ENABLE_HINT = ("Generated backgrounds are off: no weights for '{model}'. Using a white background with the "
               "{masker} mask. To enable them: packshot models download {model}")
TMP_PREFIX = ".tmp-"  # core.images.save_image / recipe sidecars write here first, then rename
DEFAULT_GENERATIVE_TEMPLATE = "studio"  # a generative engine with no prompt at all paints this
LOCK_NAME = "batch.lock"  # OUT_DIR/.packshot/batch.lock: one batch per output folder at a time


@dataclass
class JobSettings:
    """What a batch (or one GUI generation) asks for. Serialisable into the project store."""

    engine: str = "auto"
    template: Optional[str] = None
    prompt: Optional[str] = None
    negative: Optional[str] = None
    variables_csv: Optional[str] = None
    variants: int = 1
    seed: int = 0
    steps: int = 20
    guidance: float = 7.5
    controlnet_scale: float = 1.0
    scheduler: str = "unipc"
    resolution: int = 512
    color: tuple[int, int, int] = (255, 255, 255)
    background_image: Optional[str] = None
    preset: str = "original"
    shadow: Optional[str] = None  # None | "drop" | "contact"
    masker: str = "auto"
    prior: str = "auto"  # salient prior seeding the mask: auto (IS-Net when present) | classic | isnet
    sam_variant: str = "vit_b"
    masks_dir: Optional[str] = None
    qc_threshold: Optional[float] = None  # None: QC only for generative engines, at the gate's default
    qc_retries: int = 0
    name_template: str = DEFAULT_NAME_TEMPLATE
    output_format: str = "png"
    redo: bool = False
    device: str = "auto"
    models_dir: Optional[str] = None
    model: Optional[str] = None  # ControlNet model id for si2-controlnet (None: the paper's weights)

    def to_dict(self) -> dict:
        return asdict(self)

    def job_key(self, engine: str, extra: Optional[dict] = None) -> str:
        """Fingerprint of everything that changes the outputs; 'done' means done for this key.

        Run-time choices (device, redo, models folder) are left out: the same job on another device
        is the same job. ``extra``: resolved inputs (template texts, the CSV's content).

        Fields still at their dataclass default are left out, so that adding a new field with a
        default later keeps the keys (and the finished folders) of every earlier run valid."""
        data = {}
        for f in fields(self):
            if f.name in ("redo", "device", "models_dir", "engine"):
                continue
            value = getattr(self, f.name)
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            if _canonical(value) != _canonical(default):  # a colour list from JSON equals its tuple
                data[f.name] = value
        data["engine"] = engine
        if self.masks_dir:
            data["masks_dir"] = str(Path(self.masks_dir).resolve())
        data["extra"] = extra or {}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class PhotoOutcome:
    """What happened to one photo."""

    path: Path
    status: str  # done | skipped | failed | cancelled
    outputs: list[Path] = field(default_factory=list)
    message: str = ""
    error_kind: Optional[str] = None
    notes: list[str] = field(default_factory=list)
    results: list[NewResult] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class PhotoPlan:
    """What a photo's job would do (``--dry-run``, the GUI's prompt preview)."""

    path: Path
    outputs: list[Path]
    prompt: str
    negative: str
    done: bool


@dataclass
class BatchSummary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    cancelled: bool = False
    seconds: float = 0.0
    engine: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def merge(cls, parts: Sequence[dict]) -> BatchSummary:
        total = cls()
        for part in parts:
            total.done += part["done"]
            total.skipped += part["skipped"]
            total.failed += [tuple(f) for f in part["failed"]]
            total.cancelled = total.cancelled or part["cancelled"]
            total.seconds = max(total.seconds, part["seconds"])
            total.engine = total.engine or part["engine"]
        return total


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Masks: the job always uses the mask exactly as stored (8-bit PNG), so a replay is bit-exact.
# --------------------------------------------------------------------------------------------
def quantize_mask(result: Any) -> Any:
    """The MaskResult as an 8-bit PNG would give it back: alpha in 1/255 steps, mask = alpha >= 0.5."""
    from core.masking.result import MaskResult

    alpha8 = np.clip(np.rint(np.asarray(result.alpha, np.float32) * 255.0), 0, 255).astype(np.uint8)
    return MaskResult(mask=alpha8 >= 128, alpha=alpha8.astype(np.float32) / 255.0, score=result.score,
                      source=result.source, details=dict(result.details))


def save_mask_atomic(path: Path, alpha: np.ndarray) -> Path:
    """8-bit greyscale PNG of the soft mask (255 = product), written temp-then-rename."""
    alpha8 = np.clip(np.rint(np.asarray(alpha, np.float32) * 255.0), 0, 255).astype(np.uint8)
    return save_image(Path(path), alpha8)


def load_mask_file(path: Path, size: tuple[int, int], source: str = "file") -> Any:
    """A mask PNG as a MaskResult at ``size`` (w, h), quantised to the 8 bits the job stores.

    Read by ``core.masking.load_mask_png``: it honours the polarity chunk ``packshot masks --white
    background`` writes, resizes masks of the same aspect ratio and refuses any other size."""
    from core.masking.maskio import load_mask_png

    result = load_mask_png(Path(path), tuple(size))
    result.source = source
    return quantize_mask(result)


# --------------------------------------------------------------------------------------------
# The shared, per-process context: engine, masker, QC gate, templates.
# --------------------------------------------------------------------------------------------
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
        """An explicit ``--prior isnet`` without its weights fails now, when masks will be computed."""
        if self.settings.prior != "isnet" or self.settings.masks_dir:
            return
        from core.masking.prior import LEARNED_MODEL_ID

        self.model_store.path(LEARNED_MODEL_ID)  # ModelMissingError with size and the fix

    def _resolve_engine(self) -> str:
        name = self.settings.engine
        if name != "auto":
            if name == "image" and not self.settings.background_image:
                raise PackshotError("--engine image needs --background-image FILE.")
            return name
        model = self.settings.model or CONTROLNET_MODEL
        if self.model_store.available(model):
            return "si2-controlnet"
        masker = "SAM" if self._sam_available() else "classic"
        self.notes.append(ENABLE_HINT.format(model=model, masker=masker))
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
                                      "prior": resolve_prior(self.settings.prior, self.model_store)[0]}
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


# --------------------------------------------------------------------------------------------
# Rendering one image: shared by PhotoJob and recipe replay so both do exactly the same.
# --------------------------------------------------------------------------------------------
def make_shadow(shadow: Optional[str]) -> Any:
    if not shadow or shadow == "none":
        return None
    from core.generation.shadow import Shadow

    return Shadow(kind=shadow)


def render_images(engine: Any, photo: Photo, mask: Any, gen_settings: Any, shadow: Optional[str] = None,
                  progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None
                  ) -> list[np.ndarray]:
    """Backgrounds from the engine, composited under the untouched product (photo resolution)."""
    from core.generation.composite import composite

    backgrounds = engine.render(photo, mask, gen_settings, progress, cancel)
    check(cancel)
    shade = make_shadow(shadow)
    return [composite(photo, mask.alpha, bg, shade) for bg in backgrounds]


def render_from_recipe(recipe: Recipe, output_path: Path, *, store: Any = None, device: str = "auto",
                       check_input: bool = True) -> np.ndarray:
    """Run a recipe again (see ``core.recipe.replay``)."""
    from core.generation.engines import get_engine
    from core.generation.settings import GenerationSettings

    source = Path(recipe.input_path)
    if not source.is_file():
        raise ImageReadError(f"The original {source} is gone; cannot replay.")
    if check_input and file_sha256(source) != recipe.input_sha256:
        raise PackshotError(f"{source.name} changed since {Path(output_path).name} was made (sha256 differs).")
    photo = load_photo(source)
    mask_file = recipe.mask_file(output_path)
    if mask_file is None or not mask_file.is_file():
        raise ImageReadError(f"The mask used for {Path(output_path).name} ({mask_file}) is gone; cannot replay.")
    if check_input and recipe.mask.get("sha256") and file_sha256(mask_file) != recipe.mask["sha256"]:
        raise PackshotError(f"The mask {mask_file.name} was edited after {Path(output_path).name} was made; "
                            "replaying would not give the same image.")
    mask = load_mask_file(mask_file, photo.size, source=recipe.mask.get("source", "file"))
    if store is None:
        from core.models.store import ModelStore

        store = ModelStore()
    fields = set(GenerationSettings.__dataclass_fields__)
    gs = GenerationSettings(**{k: v for k, v in recipe.settings.items() if k in fields})
    gs.seeds, gs.variants, gs.seed = (int(recipe.seed),), 1, int(recipe.seed)
    for key in ("color",):
        if isinstance(getattr(gs, key), list):
            setattr(gs, key, tuple(getattr(gs, key)))
    if isinstance(gs.gradient, list):
        gs.gradient = tuple(tuple(c) for c in gs.gradient)
    # si2-controlnet records the one model it used: the paper's or the user's fine-tuned one.
    model = next(iter(recipe.models), None) if recipe.engine == "si2-controlnet" else None
    engine = get_engine(recipe.engine, store, device, model=model)
    shadow = recipe.shadow.get("kind") if recipe.shadow else None
    from core.generation.presets import frame_photo

    photo, mask = frame_photo(photo, mask, recipe.preset)
    return render_images(engine, photo, mask, gs, shadow)[0]


# --------------------------------------------------------------------------------------------
# One photo
# --------------------------------------------------------------------------------------------
class PhotoJob:
    """One photo's job. Usable alone (the GUI queue) or from ``BatchJob``."""

    def __init__(self, photo_path: Path, out_dir: Path, context: JobContext, *,
                 project: Optional[ProjectStore] = None, stem: Optional[str] = None,
                 run_id: Optional[int] = None, seeds: Optional[Sequence[int]] = None) -> None:
        self.path = Path(photo_path).resolve()
        self.out_dir = Path(out_dir).resolve()
        self.context = context
        self.project = project
        self.stem = stem or self.path.stem
        self.run_id = run_id
        self.seeds = list(seeds) if seeds is not None else None  # GUI: "regenerate with a new seed"
        self.photo_id: Optional[int] = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def variant_seeds(self) -> list[int]:
        s = self.context.settings
        return self.seeds if self.seeds is not None else [s.seed + i for i in range(s.variants)]

    def prompt(self) -> tuple[str, str]:
        return self.context.template.fill(photo_variables(self.path, self.context.variables))

    def outputs(self) -> list[Path]:
        s = self.context.settings
        seeds = self.variant_seeds
        fields = {"stem": self.stem, "name": photo_variables(self.path)["name"], "engine": self.context.engine_name,
                  "template": self.context.template.name, "ext": self.path.suffix.lstrip(".").lower()}
        return [output_path(self.out_dir, s.name_template, {**fields, "variant": i + 1, "seed": seed},
                            self.context.suffix, variants=len(seeds))
                for i, seed in enumerate(seeds)]

    def _photo_id(self) -> Optional[int]:
        if self.project is None:
            return None
        if self.photo_id is None:
            record = self.project.photo(self.path)
            self.photo_id = record.id if record else self.project.add_photo(self.path)
        return self.photo_id

    def is_done(self) -> bool:
        if self.project is None or self.context.settings.redo or self.seeds is not None:
            return False
        record = self.project.photo(self.path)
        if record is None or not self.project.is_done(record.id, self.context.job_key, len(self.variant_seeds)):
            return False
        try:  # a photo replaced under the same name is new work
            return record.sha256 is None or record.sha256 == file_sha256(self.path)
        except OSError:
            return False

    def plan(self) -> PhotoPlan:
        prompt, negative = self.prompt()
        return PhotoPlan(self.path, self.outputs(), prompt, negative, self.is_done())

    # -- the work ------------------------------------------------------------------------
    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> PhotoOutcome:
        """Do the photo. Never raises for a bad photo (the outcome says why); raises ``Cancelled``."""
        start = time.perf_counter()
        try:
            check(cancel)
            if self.is_done():
                return PhotoOutcome(self.path, "skipped", self.outputs(), "already done", seconds=0.0)
            outcome = self._run(progress, cancel)
        except Cancelled:
            raise
        except PackshotError as exc:
            outcome = self._failed(type(exc).__name__, str(exc))
        except MemoryError:
            outcome = self._failed("MemoryError", f"{self.name}: not enough memory to process this photo.")
        except Exception as exc:  # one bad photo never stops a batch; keep the trace for the log
            log.debug("Unexpected error on %s:\n%s", self.path, traceback.format_exc())
            outcome = self._failed(type(exc).__name__, f"{self.name}: unexpected {type(exc).__name__}: {exc}")
        outcome.seconds = time.perf_counter() - start
        return outcome

    def _failed(self, kind: str, message: str) -> PhotoOutcome:
        if not message.startswith(self.name):
            message = f"{self.name}: {message}"
        if self.project is not None:
            try:
                self.project.fail_photo(self._photo_id(), kind, message, self.run_id)
            except PackshotError as exc:  # the store itself may be on the full disk
                message += f" (also: {exc})"
        return PhotoOutcome(self.path, "failed", message=message, error_kind=kind)

    def _run(self, progress: ProgressCallback, cancel: Optional[CancelToken]) -> PhotoOutcome:
        ctx, s = self.context, self.context.settings
        notes: list[str] = []
        progress(Progress("photo", 0, 4, f"{self.name}: reading"))
        photo = load_photo(self.path)
        sha = file_sha256(self.path)
        photo_id = self._photo_id()
        if self.project is not None and photo_id is not None:
            self.project.set_photo_info(photo_id, sha256=sha, width=photo.size[0], height=photo.size[1])
        prompt, negative = self.prompt()
        outputs = self.outputs()
        check(cancel)

        progress(Progress("photo", 1, 4, f"{self.name}: mask"))
        mask, mask_file, mask_state = self._mask(photo, sha, notes, cancel)
        mask_sha = file_sha256(mask_file)
        used_mask = self._snapshot_mask(mask_file, mask_sha)
        check(cancel)

        progress(Progress("photo", 2, 4, f"{self.name}: background ({ctx.engine_name})"))
        seeds = self.variant_seeds
        gs = ctx.generation_settings(prompt, negative, seeds)
        # A size preset frames the photo first, so the engine makes background for the padding too.
        # The photo-resolution mask stays what is stored and recorded: replay frames again from it.
        from core.generation.presets import frame_photo

        framed, framed_mask = frame_photo(photo, mask, s.preset)
        images = render_images(ctx.engine, framed, framed_mask, gs, s.shadow, _sub(progress, self.name), cancel)

        progress(Progress("photo", 3, 4, f"{self.name}: checking and saving"))
        results: list[NewResult] = []
        models = ctx.model_info()
        for i, (image, seed, out) in enumerate(zip(images, seeds, outputs)):
            check(cancel)
            qc_record, seed_used, final = self._qc(framed, framed_mask, image, seed, prompt, negative, cancel)
            single = ctx.generation_settings(prompt, negative, [seed_used])
            recipe = Recipe(input_path=str(self.path), input_sha256=sha, engine=ctx.engine_name, seed=seed_used,
                            variant=i + 1, prompt=prompt, negative_prompt=negative, template=ctx.template.name,
                            settings=single.to_dict(), models=models,
                            mask={"path": os.path.relpath(used_mask, out.parent), "source": mask.source,
                                  "state": mask_state, "sha256": mask_sha},
                            preset=s.preset, shadow={"kind": s.shadow} if s.shadow else None, qc=qc_record,
                            output_format=s.output_format)
            self._save(out, final, photo, recipe)
            results.append(NewResult(variant=i + 1, seed=seed_used, engine=ctx.engine_name, output_path=out,
                                     recipe=json.loads(recipe.to_json()),
                                     expansion=qc_record.get("expansion") if qc_record else None,
                                     qc_flag=bool(qc_record.get("flagged")) if qc_record else False,
                                     qc=qc_record or {}, attempts=qc_record.get("attempts", 1) if qc_record else 1))
        if self.project is not None and photo_id is not None:
            self.project.complete_photo(photo_id, ctx.job_key, results, self.run_id)
        progress(Progress("photo", 4, 4, f"{self.name}: done"))
        flagged = sum(r.qc_flag for r in results)
        message = f"{flagged} of {len(results)} flagged by QC" if flagged else ""
        return PhotoOutcome(self.path, "done", outputs, message, notes=notes, results=results)

    def _mask(self, photo: Photo, sha: str, notes: list[str], cancel: Optional[CancelToken]
              ) -> tuple[Any, Path, str]:
        """The mask to use, saved into the project as the exact 8-bit PNG the job composites with."""
        s = self.context.settings
        origin = {"models": self.context.auto_mask_models(), "photo_sha256": sha}
        project_mask = (self.project.masks_dir if self.project else self.out_dir / ".packshot" / "masks") / \
            f"{self.stem}.png"
        if s.masks_dir:
            given = Path(s.masks_dir) / f"{self.path.stem}.png"  # IOPaint's convention: same stem, .png
            if given.is_file():
                mask = load_mask_file(given, photo.size, source="file")
                return self._store_mask(project_mask, mask, "reviewed")
            notes.append(f"no mask {given.name} in {s.masks_dir}; computed one automatically")
        elif self.project is not None and self._photo_id() is not None:
            record = self.project.photo(self._photo_id())
            if record and record.mask_state in ("reviewed", "edited") and record.mask_path \
                    and record.mask_path.is_file():
                mask = load_mask_file(record.mask_path, photo.size, source=record.mask_source or "file")
                return mask, record.mask_path, record.mask_state
            if record and record.mask_state == "auto" and record.mask_origin == origin and record.mask_path \
                    and record.mask_path.is_file():
                # Same photo, same mask models: only generation settings changed, so SAM need not run again.
                mask = load_mask_file(record.mask_path, photo.size, source=record.mask_source or "file")
                mask.score = record.mask_score if record.mask_score is not None else mask.score
                log.debug("%s: reusing its automatic mask %s", self.name, record.mask_path)
                return mask, record.mask_path, "auto"
        result = self.context.masker.compute(photo, cancel=cancel)
        if not result.mask.any():
            raise PackshotError(f"{self.name}: no product found in the photo (empty mask); "
                                "supply a mask with --masks or review it in the app.")
        return self._store_mask(project_mask, quantize_mask(result), "auto", origin)

    def _snapshot_mask(self, mask_file: Path, sha: str) -> Path:
        """A content-addressed copy of the mask for recipes: editing the photo's mask later (in the app)
        must not change what an existing output's recipe replays."""
        target = self.out_dir / ".packshot" / "masks" / "used" / f"{sha[:20]}.png"
        if not target.is_file():
            write_atomic(target, Path(mask_file).read_bytes())
        return target

    def _store_mask(self, path: Path, mask: Any, state: str, origin: Optional[dict] = None
                    ) -> tuple[Any, Path, str]:
        save_mask_atomic(path, mask.alpha)
        if self.project is not None and self._photo_id() is not None:
            self.project.set_mask(self._photo_id(), state, path, source=mask.source, score=mask.score,
                                  origin=origin)
        return mask, path, state

    def _qc(self, photo: Photo, mask: Any, image: np.ndarray, seed: int, prompt: str, negative: str,
            cancel: Optional[CancelToken]) -> tuple[Optional[dict], int, np.ndarray]:
        gate = self.context.gate
        if gate is None:
            return None, seed, image

        def generate(new_seed: int) -> np.ndarray:
            gs = self.context.generation_settings(prompt, negative, [new_seed])
            return render_images(self.context.engine, photo, mask, gs, self.context.settings.shadow,
                                 cancel=cancel)[0]

        result = gate.run(generate, mask.mask, seed, first_image=image, cancel=cancel)
        return result.record(), int(result.seed), result.image

    def _save(self, out: Path, pixels: np.ndarray, photo: Photo, recipe: Recipe) -> None:
        # 16-bit images go through OpenCV, which writes no text chunks: their recipe goes beside them.
        embedded = embeds_in_file(out) and pixels.dtype == np.uint8
        if not embedded:
            write_sidecar(out, recipe)
        save_image(out, pixels, icc_profile=photo.icc_profile, text=text_chunks(recipe) if embedded else None)
        if embedded:
            sidecar_path(out).unlink(missing_ok=True)  # an old sidecar from a 16-bit run would be stale


def _sub(progress: ProgressCallback, name: str) -> ProgressCallback:
    """Forward engine progress (steps) tagged with the photo's name."""
    def forward(p: Progress) -> None:
        progress(Progress(p.stage, p.done, p.total, f"{name}: {p.message}" if p.message else name))
    return forward


# --------------------------------------------------------------------------------------------
# A folder
# --------------------------------------------------------------------------------------------
class BatchJob:
    """A folder of photos into an output folder. ``prepare()`` validates all before any work."""

    def __init__(self, input_dir: Path | str, out_dir: Path | str, settings: JobSettings, *,
                 process_index: int = 0, num_processes: int = 1, model_store: Any = None,
                 argv: Optional[Sequence[str]] = None, templates_path: Optional[Path] = None) -> None:
        self.input_dir = Path(input_dir)
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.process_index = process_index
        self.num_processes = max(1, num_processes)
        self.argv = argv
        self._model_store = model_store
        self._templates_path = templates_path
        self.context: Optional[JobContext] = None
        self.project: Optional[ProjectStore] = None
        self.photos: list[Path] = []
        self.run_id: Optional[int] = None
        self._lock: Any = None

    @property
    def is_main(self) -> bool:
        return self.process_index == 0

    def prepare(self, *, dry_run: bool = False) -> None:
        """Everything that can fail for the whole batch fails here, before any photo is touched."""
        if not self.input_dir.is_dir():
            raise ImageReadError(f"Input folder not found: {self.input_dir}")
        in_root, out_root = self.input_dir.resolve(), self.out_dir.resolve()
        if out_root == in_root:
            raise PackshotError("--out must not be the input folder: originals are never written.")
        self.photos = list_photos(self.input_dir)
        s = self.settings
        if s.masks_dir and not Path(s.masks_dir).is_dir():
            raise ImageReadError(f"--masks folder not found: {s.masks_dir}")
        if s.background_image:
            load_photo(s.background_image)  # a bad background image would fail every photo
        self.context = JobContext(s, model_store=self._model_store, templates_path=self._templates_path)
        check_variables(self.context.template, self.photos, self.context.variables)
        try:
            self.context.generation_settings("", "").validate()
            from core.generation.presets import get_preset

            get_preset(s.preset)
        except ValueError as exc:
            raise PackshotError(f"Invalid settings: {exc}") from exc
        if self.context.generative:
            self.context.check_models()
        self.context.check_prior()
        self.check_output_clashes()
        if s.masker == "sam":
            self.context.masker  # noqa: B018 - loads SAM now: missing weights stop the batch before any photo
        if dry_run:
            store_file = self.out_dir / ".packshot" / "project.sqlite"
            self.project = ProjectStore(self.out_dir, create=False) if store_file.exists() else None
            return
        self.project = ProjectStore(self.out_dir)
        if self.is_main:
            self.lock()
        self.project.add_photos(self.photos)

    def lock(self) -> None:
        """Hold OUT_DIR/.packshot/batch.lock until ``release()``: a second batch on the same folder would
        work the same photos. Only the main process locks; the others of an ``accelerate launch`` run
        share its lock (their photos are disjoint shares)."""
        if self._lock is not None:
            return
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.out_dir / ".packshot" / LOCK_NAME), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise PackshotError(f"Another packshot batch is already working on {self.out_dir} (it holds "
                                f"{lock.lock_file}). Wait for it to finish, or choose another --out folder.") from None
        except OSError as exc:
            raise ImageWriteError(f"Cannot lock {self.out_dir}: {exc}") from exc
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def check_output_clashes(self) -> None:
        """Refuse, before any work, a name template that gives two photos (or variants) one output file:
        the second would overwrite the first and both would count as done."""
        owners: dict[str, list[str]] = {}
        paths: dict[str, Path] = {}
        for job in self.photo_jobs(self.photos):
            outs = job.outputs()
            for i, out in enumerate(outs):
                key = str(out)
                paths.setdefault(key, out)
                owners.setdefault(key, []).append(job.name if len(outs) == 1 else f"{job.name} (variant {i + 1})")
        clashes = [(paths[k], names) for k, names in owners.items() if len(names) > 1]
        if not clashes:
            return
        lines = []
        for out, names in clashes[:5]:
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            lines.append(f"{out.relative_to(self.out_dir.resolve())} <- {shown}")
        more = f" (and {len(clashes) - 5} more clashes)" if len(clashes) > 5 else ""
        template = self.settings.name_template
        if "{stem}" in template:  # only cleaning of odd characters can make stems meet
            fix = "Rename one of the photos in each pair."
        else:
            fix = f"Put {{stem}} in --name (e.g. --name \"{{stem}}-{template}\") so every photo gets its own file."
        raise TemplateError(f"--name '{template}' gives several results the same output file: "
                            + "; ".join(lines) + more + ". " + fix)

    @property
    def notes(self) -> list[str]:
        return self.context.notes if self.context else []

    def my_photos(self) -> list[Path]:
        """This process's share: every n-th photo, so shares are disjoint and stable across runs."""
        return self.photos[self.process_index::self.num_processes]

    def photo_jobs(self, photos: Optional[Sequence[Path]] = None) -> list[PhotoJob]:
        if self.context is None:
            raise PackshotError("BatchJob.prepare() must run first.")
        stems = unique_stems(self.photos)
        chosen = self.my_photos() if photos is None else [Path(p) for p in photos]
        return [PhotoJob(p, self.out_dir, self.context, project=self.project,
                         stem=stems.get(p, p.stem), run_id=self.run_id) for p in chosen]

    def plan(self) -> list[PhotoPlan]:
        return [job.plan() for job in self.photo_jobs()]

    def cleanup_partials(self) -> int:
        """Remove temp files a killed run left behind (call from one process only, while no other writes)."""
        removed = 0
        if not self.out_dir.is_dir():
            return 0
        for path in self.out_dir.rglob(f"{TMP_PREFIX}*"):
            if path.is_file():
                try:
                    path.unlink()
                    removed += 1
                except OSError:
                    pass
        return removed

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None,
            on_photo: Optional[Callable[[PhotoOutcome], None]] = None,
            barrier: Optional[Callable[[], None]] = None) -> BatchSummary:
        """Run this process's photos. ``barrier`` (multi-process) keeps the temp-file cleanup safe."""
        if self.context is None or self.project is None:
            self.prepare()
        assert self.context is not None and self.project is not None
        if barrier is not None:
            barrier()  # every process is past prepare() (whose write probe is a temp file)...
        if self.is_main:
            self.cleanup_partials()
        if barrier is not None:
            barrier()  # ...and nobody writes before the main process has cleaned up
        self.run_id = self.project.start_run(self.settings.to_dict() | {"engine_resolved": self.context.engine_name},
                                             self.argv, process_index=self.process_index,
                                             num_processes=self.num_processes)
        summary = BatchSummary(engine=self.context.engine_name)
        start = time.perf_counter()
        jobs = self.photo_jobs()
        status = "finished"
        try:
            for i, job in enumerate(jobs):
                progress(Progress("batch", i, len(jobs), job.name))
                outcome = job.run(progress, cancel)
                {"done": summary.done, "skipped": summary.skipped}.get(outcome.status, []).append(job.name)
                if outcome.status == "failed":
                    summary.failed.append((job.name, outcome.message))
                if on_photo is not None:
                    on_photo(outcome)
            progress(Progress("batch", len(jobs), len(jobs), ""))
        except Cancelled:
            summary.cancelled = True
            status = "cancelled"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            summary.seconds = time.perf_counter() - start
            try:
                self.project.finish_run(self.run_id, status, summary.to_dict())
            except PackshotError as exc:
                log.warning("Could not record the end of the run: %s", exc)
            if self.num_processes == 1:  # several processes: the launcher releases once all are done
                self.release()
        return summary
