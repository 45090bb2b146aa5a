"""The ``flux2-klein`` engine: FLUX.2 [klein] inpainting (diffusers' ``Flux2KleinInpaintPipeline``).

A 2026 engine beside the paper's. It paints the background at the output's aspect ratio (the long
side is ``--resolution``, both sides multiples of the model's 16 px token), never letterboxed, and may
take a style reference photo (``--reference IMAGE``, the pipeline's ``image_reference``). The pipeline
paints at most about 1 MP (a larger ``--resolution`` is capped, and the run says so: ``canvas_note``); at
final quality a canvas smaller than the photo reaches the photo's size through the learned upscaler
(``packshot.core.generation.upscale``), as the paper's engine's does; previews stay bicubic. The product is pasted
back bit-exact afterwards, as for every engine (``packshot.core.generation.composite``).

The pipeline is diffusers' own, assembled from components loaded one by one (model_index.json read as
data, nothing in the folder executed), and called with the inputs diffusers documents: so an output
equals ``Flux2KleinInpaintPipeline.from_pretrained(folder)`` on the same canvas, mask, seed and steps
(tests/core/generation/test_flux2_klein.py). What we add: seeds per variant (a CPU generator each, so
a variant depends on its own seed only), progress, live previews (the current latents through the
FLUX.2 VAE) and cancel between steps through ``callback_on_step_end``, an fp16 overflow check, and the
device policy below.

Devices (``decide_plan``, a pure function of the device's kind, memory and bf16 support): bf16 on CUDA cards
that have it, fp16 otherwise (every step checked for overflow), model CPU offload on cards that cannot hold
the whole model (the 4B's half-precision weights and a 1 MP canvas: about 19 GB; always below 16 GB); fp16 on
Apple's MPS where unified memory holds the model; fp32 on the CPU, only for small models (tests): the 4B model
is refused there in one line saying what it would cost and what to use instead. Never bf16 on the CPU.
"""

from __future__ import annotations

import json
import logging
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from packshot.core.errors import ModelMissingError, PackshotError
from packshot.core.generation.engines.base import BackgroundEngine
from packshot.core.generation.engines.upscaled import LearnedUpscale
from packshot.core.generation.settings import GenerationSettings
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)

ENGINE_NAME = "flux2-klein"
DEFAULT_MODEL = "flux2-klein-4b"
# Black Forest Labs publishes the 9B variants under the FLUX Non-Commercial License: never picked for
# the user, only run when named with --model (their use in commerce is the user's licence to hold).
NON_COMMERCIAL_MODELS = ("flux2-klein-9b", "flux2-klein-base-9b")
KLEIN_PIPELINES = ("Flux2KleinPipeline", "Flux2KleinInpaintPipeline")
PARTS = ("transformer", "vae", "text_encoder", "tokenizer", "scheduler")
# Flux2KleinInpaintPipeline scales any input above 1024 x 1024 pixels down to that area itself.
MAX_PIXELS = 1024 * 1024
OFFLOAD_BELOW_GB = 16.0
# On the CPU only models this small run (the tests' tiny one); FLUX.2 [klein] 4B has ~4e9.
CPU_MAX_TRANSFORMER_PARAMS = 1_000_000_000
# Rough throughput of a fast desktop CPU in fp32 (for the refusal's time estimate only).
CPU_FLOPS = 2e11
TEXT_TOKENS = 512
GPU_BATCH = 4  # variants per call on a GPU without offload


class IncompatibleKleinError(PackshotError):
    """A model folder is present but is not a FLUX.2 [klein] diffusers folder."""


# -- sizes ------------------------------------------------------------------------------------------
def canvas_size(width: int, height: int, resolution: int, multiple: int = 16) -> tuple[int, int]:
    """(w, h) of the generation canvas: the photo's aspect, long side ``resolution``, multiples of ``multiple``,
    at most ``MAX_PIXELS`` (the pipeline would scale a larger one down itself)."""
    scale = resolution / max(width, height)
    scale = min(scale, math.sqrt(MAX_PIXELS / (width * height)))
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    while w * h > MAX_PIXELS:  # rounding up may overshoot the cap by a row of tokens
        if w >= h:
            w -= multiple
        else:
            h -= multiple
    return w, h


def safetensors_params(folder: Path) -> int:
    """Parameter count of the ``*.safetensors`` files in ``folder``, read from their headers (no weights loaded)."""
    total = 0
    for path in sorted(Path(folder).glob("*.safetensors")):
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > 100_000_000:
                raise IncompatibleKleinError(f"{path}: not a safetensors file (header of {length} bytes).")
            header = json.loads(handle.read(length))
        total += sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
    return total


def canvas_note(resolution: int, quality: str = "final") -> Optional[str]:
    """What a run is told when ``--resolution`` asks for more than the pipeline paints (about 1 MP): which photos
    get a smaller canvas, and that their background is enlarged to the photo's size afterwards. None: no cap."""
    from packshot.core.generation.preview import plan_quality

    side = plan_quality(quality, 1, resolution).resolution
    if side * side <= MAX_PIXELS:
        return None  # no photo's canvas (long side ``side``, the short one no longer) passes the cap
    square, wide = canvas_size(side, side, side), canvas_size(1500, 1000, side)
    return (f"--resolution {resolution}: FLUX.2 [klein]'s inpainting pipeline paints at most about 1 megapixel, so a "
            f"photo less elongated than {side * side / MAX_PIXELS:.1f}:1 gets a smaller canvas ({square[0]} x "
            f"{square[1]} for a square photo, {wide[0]} x {wide[1]} for 3:2); its background is enlarged to the "
            "photo's size by the learned upscaler (bicubic with --detail off or without one).")


# -- devices ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KleinDevicePlan:
    device: Any
    dtype: Any
    offload: bool

    @property
    def label(self) -> str:
        return f"{self.device} {str(self.dtype).replace('torch.', '')}{' (CPU offload)' if self.offload else ''}"


def cpu_refusal(transformer_params: int, text_params: int, resolution: int, steps: int) -> str:
    """The one line that says why the CPU is refused: memory and time it would need, what to use instead."""
    memory_gb = (transformer_params + text_params) * 4 / 1e9  # fp32: the CPU has no fast half precision
    tokens = (resolution // 16) ** 2 + TEXT_TOKENS
    minutes = 2 * transformer_params * tokens * steps / CPU_FLOPS / 60
    return (f"The flux2-klein engine needs a GPU: on this CPU its {transformer_params / 1e9:.1f}B-parameter model "
            f"would need about {memory_gb:.0f} GB of memory (float32) and roughly {minutes:.0f} minutes per image at "
            f"{resolution} px with {steps} steps. Use --engine si2-controlnet (the paper's engine, "
            "--quality preview for speed) here, or run flux2-klein on a CUDA GPU with 13 GB or more.")


# Half-precision weights plus about this much for a 1 MP canvas' activations and the VAE's decode.
ACTIVATIONS_GB = 3.0
# macOS lets the GPU use about this share of unified memory (Metal's recommended working set).
MPS_USABLE_FRACTION = 0.7


def half_weights_gb(transformer_params: int, text_params: int) -> float:
    return (transformer_params + text_params) * 2 / 1e9


def decide_plan(kind: str, transformer_params: int, *, text_params: int = 0, memory_gb: float = 0.0,
                bf16: bool = False, resolution: int = 1024, steps: int = 4) -> tuple[str, bool]:
    """(dtype name, model CPU offload) for a device of ``kind`` ("cuda", "mps", "cpu") with ``memory_gb`` (the
    GPU's; unified memory on a Mac) and ``bf16`` support: a pure function of the device's properties.

    CUDA: bf16 where the card has it, else fp16 (every step checked for overflow); the whole model on the card
    when it holds the half-precision weights and a 1 MP canvas' activations (and at least ``OFFLOAD_BELOW_GB``),
    else model CPU offload (one component on the card at a time); a card too small even for that is refused.
    MPS: fp16 (checked for overflow) when the Mac's GPU share of unified memory holds the model (offload frees
    nothing there: CPU and GPU share it), else refused. CPU: fp32 for small models only. Refusals are one line.
    """
    weights = half_weights_gb(transformer_params, text_params)
    if kind == "cpu":
        if transformer_params > CPU_MAX_TRANSFORMER_PARAMS:
            raise PackshotError(cpu_refusal(transformer_params, text_params, resolution, steps))
        return "float32", False  # never bf16 on the CPU (~80x slower here)
    if kind == "cuda":
        whole = weights + ACTIVATIONS_GB
        offload = 0 < memory_gb < max(OFFLOAD_BELOW_GB, whole)
        one_part = max(transformer_params, text_params) * 2 / 1e9 + ACTIVATIONS_GB  # the largest component
        if offload and memory_gb < one_part:
            raise PackshotError(
                f"The flux2-klein engine needs a GPU with about {one_part:.0f} GB of memory or more (its "
                f"{transformer_params / 1e9:.1f}B-parameter model, one part at a time); this one has "
                f"{memory_gb:.0f} GB. Use --engine si2-controlnet here.")
        return ("bfloat16" if bf16 else "float16"), offload
    if kind == "mps":
        usable = memory_gb * MPS_USABLE_FRACTION
        if usable < weights + ACTIVATIONS_GB:
            raise PackshotError(
                f"The flux2-klein engine needs about {weights + ACTIVATIONS_GB:.0f} GB of the Mac's GPU memory "
                f"(its model in float16 and a 1 MP canvas); this Mac has {memory_gb:.0f} GB of unified memory, of "
                f"which macOS lends the GPU about {usable:.0f} GB. Use --engine si2-controlnet here, or a Mac with "
                f"{(weights + ACTIVATIONS_GB) / MPS_USABLE_FRACTION:.0f} GB or more.")
        return "float16", False
    raise PackshotError(f"The flux2-klein engine cannot run on a '{kind}' device; use cuda, mps or cpu.")


def plan_device(device: Any, transformer_params: int, *, text_params: int = 0, resolution: int = 1024,
                steps: int = 4, memory_gb: Optional[float] = None, bf16: Optional[bool] = None) -> KleinDevicePlan:
    """``decide_plan`` for ``device``, its properties probed (``memory_gb``/``bf16``: stand-ins for the probes)."""
    import torch

    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        if bf16 is None:
            bf16 = bool(torch.cuda.is_bf16_supported())
        if memory_gb is None:
            from packshot.core.devices import cuda_memory_gb

            memory_gb = cuda_memory_gb(device)
    elif kind == "mps" and memory_gb is None:
        from packshot.core.devices import system_memory_gb

        memory_gb = system_memory_gb()
    dtype, offload = decide_plan(kind, transformer_params, text_params=text_params, memory_gb=memory_gb or 0.0,
                                 bf16=bool(bf16), resolution=resolution, steps=steps)
    return KleinDevicePlan(device, getattr(torch, dtype), offload)


# -- loading ----------------------------------------------------------------------------------------
def read_klein_index(folder: Path) -> dict:
    from packshot.core.generation.components import model_index_json

    data = model_index_json(folder, IncompatibleKleinError)
    if data.get("_class_name") not in KLEIN_PIPELINES:
        raise IncompatibleKleinError(f"{folder} holds a '{data.get('_class_name')}' model; the flux2-klein engine "
                                     f"needs FLUX.2 [klein] ({' or '.join(KLEIN_PIPELINES)}).")
    missing = [p for p in PARTS if not (Path(folder) / p).is_dir()]
    if missing:
        raise ModelMissingError(f"{folder} lacks the component folder(s) {', '.join(missing)}; download the model "
                                "again (packshot models download) or point Packshot to a complete copy.")
    return data


def load_flux2_klein(folder: Path, dtype: Any = None) -> Any:
    """``Flux2KleinInpaintPipeline`` over the components of ``folder``, each loaded with its own
    ``from_pretrained`` (safetensors, offline); nothing in the folder is imported or executed."""
    from packshot.core.generation.components import quiet_library_logs

    with quiet_library_logs():
        return _load(Path(folder), dtype)


def _load(folder: Path, dtype: Any) -> Any:
    import torch
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinInpaintPipeline,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen2TokenizerFast, Qwen3ForCausalLM

    index = read_klein_index(folder)
    dtype = dtype or torch.float32
    common = dict(local_files_only=True, use_safetensors=True)
    transformer = Flux2Transformer2DModel.from_pretrained(str(folder), subfolder="transformer", torch_dtype=dtype,
                                                          **common)
    vae = AutoencoderKLFlux2.from_pretrained(str(folder), subfolder="vae", torch_dtype=dtype, **common)
    text_encoder = Qwen3ForCausalLM.from_pretrained(str(folder), subfolder="text_encoder", dtype=dtype, **common)
    tokenizer = Qwen2TokenizerFast.from_pretrained(str(folder), subfolder="tokenizer", local_files_only=True)
    scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(str(folder), subfolder="scheduler",
                                                                local_files_only=True)
    for module in (transformer, vae, text_encoder):
        module.eval().requires_grad_(False)
    pipeline = Flux2KleinInpaintPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder,
                                         tokenizer=tokenizer, transformer=transformer,
                                         is_distilled=bool(index.get("is_distilled", False)))
    pipeline.set_progress_bar_config(disable=True)  # progress goes through our callback
    return pipeline


def loaded_klein(runtime: Runtime, folder: Path, plan: KleinDevicePlan, model_id: str = DEFAULT_MODEL) -> LoadedKlein:
    """The FLUX.2 [klein] pipeline of ``folder`` placed by ``plan``, once per ``runtime``; a downloaded folder's
    files are first checked against the sha256 its download recorded (``ModelStore.check_recorded``)."""
    key = (str(Path(folder).resolve()), str(plan.device), str(plan.dtype), plan.offload)

    def load() -> LoadedKlein:
        runtime.store.check_recorded(model_id, Path(folder))  # ChecksumMismatchError naming the files
        return LoadedKlein(Path(folder), plan)

    return runtime.cached("FLUX.2 klein models", key, load)


class LoadedKlein:
    """One FLUX.2 [klein] folder on one device: the pipeline and how it was placed."""

    def __init__(self, folder: Path, plan: KleinDevicePlan) -> None:
        self.folder, self.plan = Path(folder), plan
        self.pipeline = load_flux2_klein(self.folder, plan.dtype)
        if plan.offload:
            self.pipeline.enable_model_cpu_offload(device=plan.device)
        else:
            self.pipeline.to(plan.device)

    @property
    def device(self) -> Any:
        return self.plan.device

    @property
    def multiple(self) -> int:
        return self.pipeline.vae_scale_factor * 2


def _known(store: Any, model_id: str) -> bool:
    try:
        store.spec(model_id)
    except ModelMissingError:
        return False
    return True


def licence_note(model_id: str) -> Optional[str]:
    """What to say when a non-commercial model was named explicitly (None for the Apache-2.0 4B)."""
    if model_id in NON_COMMERCIAL_MODELS:
        return (f"{model_id} is under the FLUX Non-Commercial License (Black Forest Labs): used because you named "
                "it; commercial use needs a licence from them. flux2-klein-4b is Apache-2.0.")
    return None


# -- the reference ------------------------------------------------------------------------------------
def load_reference(settings: GenerationSettings) -> Any:
    """The style reference as a PIL image (None without one); refuses a file whose sha256 is not the recorded one."""
    if not settings.reference:
        return None
    from packshot.core.images import load_photo
    from packshot.core.jobs.settings import file_sha256

    path = Path(settings.reference)
    photo = load_photo(path)  # ImageReadError naming the file and why
    expected = settings.extra.get("reference_sha256")  # what the recipe recorded (JobContext puts it there)
    if expected and file_sha256(path) != expected:
        raise PackshotError(f"The reference {path.name} is not the file this image was made with (sha256 differs); "
                            "replay needs the same reference.")
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(photo.rgb8))


# -- the engine ---------------------------------------------------------------------------------------
class Flux2KleinEngine(LearnedUpscale, BackgroundEngine):
    """FLUX.2 [klein] inpainting; at final quality a canvas smaller than the photo is enlarged by the learned
    upscaler (``LearnedUpscale``), as the paper's engine's is; previews stay bicubic."""

    name = ENGINE_NAME
    needs_models = True

    def __init__(self, runtime: Runtime, device: str = "auto", model_id: Optional[str] = None,
                 max_batch: Optional[int] = None) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.device_preference = device
        self.model_id = model_id or DEFAULT_MODEL
        self.max_batch = max_batch  # None: all variants at once on a GPU holding the whole model, else one

    @property
    def model_ids(self) -> tuple[str, ...]:
        return (self.model_id,)

    def resolve_folder(self) -> Path:
        """The model's folder: the 4B by default; a 9B only when named (never as a stand-in for a missing 4B)."""
        spec = self.store.spec(self.model_id)  # ModelMissingError naming the known models
        if spec.user and spec.extra.get("pipeline") not in KLEIN_PIPELINES:
            raise IncompatibleKleinError(f"--model {self.model_id}: not a FLUX.2 [klein] model (its model_index.json "
                                         f"names '{spec.extra.get('pipeline')}').")
        folder = self.store.locate(self.model_id)
        if folder is not None:
            return folder
        message = self.store.missing_message(self.model_id)
        if self.model_id == DEFAULT_MODEL:
            present = [m for m in NON_COMMERCIAL_MODELS if _known(self.store, m) and self.store.available(m)]
            if present:
                message += (f" ({present[0]} is here but is not used in its place: Black Forest Labs publishes the "
                            "9B models under the FLUX Non-Commercial License. If your use is non-commercial, name it "
                            f"with --model {present[0]}.)")
        raise ModelMissingError(message)

    def available(self) -> bool:
        try:
            self.resolve_folder()
        except PackshotError:
            return False
        return True

    def plan(self, settings: Optional[GenerationSettings] = None) -> KleinDevicePlan:
        """Where and how the model runs; raises the one-line refusal on a CPU for a full-size model."""
        from packshot.core.devices import pick_device

        folder = self.resolve_folder()
        settings = settings or GenerationSettings()
        return plan_device(pick_device(self.device_preference), safetensors_params(folder / "transformer"),
                           text_params=safetensors_params(folder / "text_encoder"),
                           resolution=settings.resolution, steps=settings.steps)

    def check_device(self, settings: Optional[GenerationSettings] = None) -> None:
        """Before any work: the one-line refusal when this device cannot run the model (a CPU and the 4B)."""
        self.plan(settings)

    def models(self, settings: Optional[GenerationSettings] = None) -> LoadedKlein:
        return loaded_klein(self.runtime, self.resolve_folder(), self.plan(settings), self.model_id)

    def batch_size(self, loaded: LoadedKlein) -> int:
        """One variant at a time on the CPU and with offload (bit-identical to a replay); a few at once on a GPU
        holding the whole model (a 1 MP canvas is 4096 tokens per variant: batches of 4 keep activations small)."""
        if self.max_batch:
            return self.max_batch
        if loaded.plan.offload or getattr(loaded.device, "type", "cpu") != "cuda":
            return 1
        return GPU_BATCH

    def render(self, photo: Any, mask: Any, settings: GenerationSettings,
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[CancelToken] = None) -> list[np.ndarray]:
        import cv2

        from packshot.core.generation.engines.diffusion import object_map
        from packshot.core.generation.preview import plan_quality

        settings.validate()
        check(cancel)
        reference = load_reference(settings)
        loaded = self.models(settings)
        upscaler = self.upscaler_for(settings)  # None at preview quality, with --detail off, or with none here
        plan = plan_quality(settings.quality, settings.steps, settings.resolution)
        height, width = photo.pixels.shape[:2]
        cw, ch = canvas_size(width, height, plan.resolution, loaded.multiple)
        down = cv2.INTER_AREA if cw < width else cv2.INTER_CUBIC
        canvas = cv2.resize(photo.rgb8, (cw, ch), interpolation=down)
        product = cv2.resize(object_map(mask, (height, width)), (cw, ch), interpolation=cv2.INTER_AREA)
        generate = np.clip(1.0 - product, 0.0, 1.0)
        seeds, max_batch = settings.variant_seeds(), self.batch_size(loaded)
        images = generate_canvases(loaded.pipeline, canvas, generate, prompt=settings.prompt,
                                   negative_prompt=settings.negative_prompt, seeds=seeds,
                                   steps=plan.steps, guidance=settings.guidance, reference=reference,
                                   max_batch=max_batch, progress=progress, cancel=cancel,
                                   check_overflow=str(loaded.plan.dtype) == "torch.float16")
        if upscaler is not None and (width > cw or height > ch) and progress is not None:
            total = plan.steps * -(-len(seeds) // max_batch)
            progress(Progress("generate", total, total, f"{ENGINE_NAME}: enlarging the background "
                                                        f"({upscaler.model_id})"))
        return [to_photo_size(image, (width, height), upscaler, cancel) for image in images]


def to_photo_size(image: np.ndarray, size: tuple[int, int], upscaler: Any = None,
                  cancel: Optional[CancelToken] = None) -> np.ndarray:
    """A canvas-sized background at the photo's ``size`` = (width, height): through ``upscaler``
    (``packshot.core.generation.upscale.Upscaler``) when the photo is larger than the canvas, else bicubic up / area down."""
    import cv2

    width, height = size
    ch, cw = image.shape[:2]
    if upscaler is not None and (width > cw or height > ch):
        return upscaler(np.ascontiguousarray(image), (width, height), cancel=cancel)  # cancel checked between tiles
    up = cv2.INTER_CUBIC if width > cw else cv2.INTER_AREA
    return cv2.resize(image, (width, height), interpolation=up)


def mask_image(generate: np.ndarray) -> Any:
    """The pipeline's mask (white = repaint) as an 8-bit image; the pipeline binarises it at 0.5."""
    from PIL import Image

    return Image.fromarray((np.clip(generate, 0.0, 1.0) * 255).round().astype(np.uint8), mode="L")


def generate_canvases(pipeline: Any, canvas: np.ndarray, generate: np.ndarray, *, prompt: str, seeds: list[int],
                      steps: int, guidance: float, negative_prompt: str = "", reference: Any = None,
                      max_batch: int = 1, progress: Optional[ProgressCallback] = None,
                      cancel: Optional[CancelToken] = None, check_overflow: bool = False) -> list[np.ndarray]:
    """One canvas-sized uint8 background per seed from ``Flux2KleinInpaintPipeline``.

    ``strength=1.0``: the background starts from pure noise (nothing of the old backdrop leaks in); the
    product's latents are blended back at every step by the pipeline itself.
    """
    import torch
    from PIL import Image

    from packshot.core.generation.components import quiet_library_logs
    from packshot.core.progress import preview_every

    image = Image.fromarray(np.ascontiguousarray(canvas))
    mask = mask_image(generate)
    h, w = generate.shape
    report = progress or (lambda _p: None)
    every = preview_every(progress)
    batches = [seeds[i:i + max_batch] for i in range(0, len(seeds), max_batch)]
    total = steps * len(batches)
    negative = None
    if negative_prompt and guidance > 1 and not pipeline.config.is_distilled:
        # The pipeline's own negative is ""; a user's negative prompt reaches it as embeddings.
        negative = pipeline.encode_prompt(prompt=negative_prompt, device=pipeline._execution_device)[0]
    out: list[np.ndarray] = []
    for b, chunk in enumerate(batches):
        offset = b * steps

        def on_step(_pipe, step, _t, state, offset=offset):
            latents = state.get("latents")
            if check_overflow and latents is not None and not torch.isfinite(latents).all():
                raise PackshotError("flux2-klein overflowed in float16 on this GPU (no bfloat16 here): the image "
                                    "would be noise. Use a card with bfloat16, or --engine si2-controlnet.")
            done = offset + step + 1
            shown = live_preview(pipeline, latents, h, w) if every and latents is not None and done % every == 0 \
                else None
            report(Progress("generate", done, total, f"{ENGINE_NAME}: step {done} of {total} ({w} x {h})",
                            image=shown))
            check(cancel)  # raises Cancelled between steps
            return {}

        # One CPU generator per variant: the same seed gives the same noise on any device and in any batch.
        generators = [torch.Generator("cpu").manual_seed(int(s)) for s in chunk]
        with quiet_library_logs():  # e.g. "guidance is ignored for step-wise distilled models" on every call
            result = pipeline(prompt=prompt, image=image, mask_image=mask, image_reference=reference, height=h,
                              width=w, strength=1.0, num_inference_steps=steps, guidance_scale=guidance,
                              num_images_per_prompt=len(chunk), generator=generators, output_type="np",
                              negative_prompt_embeds=negative, callback_on_step_end=on_step)
        if check_overflow and not np.isfinite(result.images).all():  # the VAE may overflow where the steps did not
            raise PackshotError("flux2-klein overflowed in float16 on this GPU (no bfloat16 here): the image would "
                                "be noise. Use a card with bfloat16, or --engine si2-controlnet.")
        # As diffusers' numpy_to_pil rounds its float images to 8 bits.
        out.extend((result.images * 255).round().astype(np.uint8))
    return out


def live_preview(pipeline: Any, latents: Any, height: int, width: int) -> np.ndarray:
    """(N, H, W, 3) uint8 of the current packed latents, decoded by the FLUX.2 VAE as the pipeline's last step
    decodes (tokens are row-major over the canvas' 16 px cells). Mid-run latents still hold their noise."""
    import torch

    vae = pipeline.vae
    cells_h, cells_w = height // pipeline.vae_scale_factor // 2, width // pipeline.vae_scale_factor // 2
    with torch.inference_mode():
        x = latents.reshape(latents.shape[0], cells_h, cells_w, -1).permute(0, 3, 1, 2)
        mean = vae.bn.running_mean.view(1, -1, 1, 1).to(x.device, x.dtype)
        std = torch.sqrt(vae.bn.running_var.view(1, -1, 1, 1) + vae.config.batch_norm_eps).to(x.device, x.dtype)
        x = pipeline._unpatchify_latents(x * std + mean)
        images = vae.decode(x.to(vae.dtype), return_dict=False)[0]
    images = (images.float() / 2 + 0.5).clamp(0, 1)
    return (images.permute(0, 2, 3, 1).cpu().numpy() * 255).round().astype(np.uint8)
