"""A learned background upscaler between the generation and the paste-back.

The paper's engine paints a 512-pixel canvas; the photo's own size is often 4-12 times larger. At final
quality, when the model is present, the generated background is enlarged by a learned x4 upscaler
(Real-ESRGAN x4plus on a GPU, its compact SRVGGNet variant realesr-general-x4v3 on the CPU), repeated
until it covers the output, then area-resized to the exact size. The product is pasted back over it
at full resolution afterwards (``packshot.core.generation.composite``), so its pixels never pass through here.

Weights are read by ``packshot.core.models.safe_load`` (safetensors, or a ``.pth`` through torch's weights-only
unpickler) and the architecture is recognised from the state dict by spandrel; only the two
architectures of the manifest's models are accepted.

Large images are processed in tiles: each tile is upscaled with enough context around it that
the network's zero padding never reaches the kept pixels, and neighbouring tiles overlap by a
feather band where their outputs are cross-faded, so no seam shows (a flat background stays flat).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from packshot.core.errors import ModelMissingError, PackshotError, UnsafeWeightsError
from packshot.core.progress import CancelToken, check

if TYPE_CHECKING:
    from packshot.core.generation.settings import GenerationSettings
    from packshot.core.models.store import ModelStore
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)

UPSCALER_KIND = "upscaler"  # manifest kind: one weights file per model folder
GPU_UPSCALER = "realesrgan-x4plus"  # RRDBNet, 16.7 M parameters
CPU_UPSCALER = "realesr-general-x4v3"  # SRVGGNetCompact, 1.2 M parameters
ARCHITECTURES = ("ESRGAN", "Compact")  # spandrel's ids for RRDBNet and SRVGGNetCompact
RECIPE_ROLE = "upscaler"  # how a recipe's ``models`` entry says it is the upscaler, not the engine's model
# The engines whose backgrounds go through it (``packshot.core.generation.engines.upscaled.LearnedUpscale``).
UPSCALED_ENGINES = ("si2-controlnet", "si2", "sd2-controlnet", "flux2-klein")
FEATHER = 8  # input pixels over which two tiles cross-fade


def preferred_upscalers(device_type: str) -> tuple[str, ...]:
    """Upscalers in order of preference: the large model on a GPU (CUDA or MPS), the compact one on the CPU
    (its time fits the CPU's budget; the large one's does not)."""
    return (GPU_UPSCALER, CPU_UPSCALER) if str(device_type).split(":")[0] in ("cuda", "mps") else (CPU_UPSCALER,)


def resolve_pass(store: ModelStore, settings: GenerationSettings, engine: str,
                 device_type: str) -> tuple[str, Optional[str]]:
    """(detail, upscaler id) that a render of ``engine`` runs on ``device_type``: the pure
    ``packshot.core.generation.detail.resolve_detail``, and "off" with no upscaler when none runs (a preview,
    ``--detail off``, another engine, or ``auto`` finding no model here: bicubic, said by ``missing_note``).
    What a final render's recipe records, in place of ``auto``."""
    from packshot.core.generation.detail import resolve_detail

    upscaler = resolve_upscaler(store, settings, device_type) if engine in UPSCALED_ENGINES else None
    if upscaler is None:
        return "off", None
    return resolve_detail(str(settings.detail), engine, device_type, str(settings.quality)), upscaler


def resolve_upscaler(store: ModelStore, settings: GenerationSettings, device_type: str) -> Optional[str]:
    """The upscaler id that runs for ``settings`` on this device, or None (bicubic, as before).

    ``detail`` off or a preview: None. An explicit ``upscaler`` must be present. ``auto``: the
    device's preferred model when downloaded, else None (the caller says so in a note). ``upscale``
    without any model: ``ModelMissingError`` naming the download.
    """
    detail = str(settings.detail)
    if detail == "off" or str(settings.quality) != "final":
        return None
    if settings.upscaler:
        store.path(settings.upscaler)  # ModelMissingError with the fix
        if store.spec(settings.upscaler).kind != UPSCALER_KIND:
            raise PackshotError(f"--upscaler {settings.upscaler}: not an upscaler (see `packshot models list`).")
        return settings.upscaler
    wanted = preferred_upscalers(device_type)
    for model_id in wanted:
        if _present(store, model_id):
            return model_id
    if detail in ("upscale", "repaint"):
        raise ModelMissingError(store.missing_message(wanted[-1]))
    return None


def _present(store: ModelStore, model_id: str) -> bool:
    """True when the upscaler's weights file is on this machine."""
    try:
        return weights_path(store, model_id).is_file()
    except (ModelMissingError, OSError):
        return False


def missing_note(store: ModelStore, settings: GenerationSettings, device_type: str) -> Optional[str]:
    """What a final render says when ``detail auto`` finds no upscaler (None when one runs or none is wanted)."""
    if str(settings.detail) != "auto" or str(settings.quality) != "final" or settings.upscaler:
        return None
    if resolve_upscaler(store, settings, device_type) is not None:
        return None
    model_id = preferred_upscalers(device_type)[-1]
    return (f"No upscaler on this machine: the background was enlarged with a bicubic filter (soft on large "
            f"photos). Run `packshot models download {model_id}` ({store.spec(model_id).size_text}) for a "
            "learned upscale, or pass --detail off to silence this.")


def pass_note(label: str, engine: Any, settings: GenerationSettings) -> Optional[str]:
    """One line saying what ``engine``'s backgrounds go through for ``settings`` on its device (eval's report
    says it per engine); None for an engine that paints at the photo's size."""
    resolve = getattr(engine, "with_resolved_detail", None)
    if resolve is None or str(settings.quality) != "final":
        return None
    ran = resolve(settings)
    if str(ran.detail) == "off":
        return f"{label}: backgrounds enlarged with a bicubic filter (no learned upscaler ran; --detail {settings.detail})."
    what = "learned upscale + detail pass (repaint)" if str(ran.detail) == "repaint" else "learned upscale"
    return f"{label}: backgrounds enlarged by {ran.upscaler} ({what}, --detail {settings.detail} on this device)."


class Upscaler:
    """One loaded upscaler: ``upscaler(image, (width, height))`` enlarges an H x W x 3 uint8 image."""

    def __init__(self, descriptor: Any, model_id: str, sha256: str, path: Path, device: Any) -> None:
        import torch

        self.model_id = model_id
        self.sha256 = sha256  # the weights' version: recipes record it, replays check it
        self.path = path
        self.device = torch.device(device)
        self.scale = int(descriptor.scale)
        self.architecture = descriptor.architecture.id
        half = self.device.type == "cuda" and descriptor.supports_half
        self.dtype = torch.float16 if half else torch.float32
        self.model = descriptor.model.to(self.device, self.dtype).eval()
        # Context each tile needs so the zero padding at its edge never reaches kept pixels: one pixel per
        # 3 x 3 convolution on the longest path (SRVGGNet: num_conv + 2); RRDBNet's path is hundreds of
        # convolutions deep, but its effective field is far smaller (Real-ESRGAN's own tiler pads 10).
        convs = getattr(descriptor.model, "num_conv", None)
        self.context = int(convs) + 4 if convs is not None else 32
        # Input pixels per tile side: the 512-pixel engine's background is one tile (each tile's context costs
        # time: 256-pixel tiles took 1.8x the pixels, one 512 x 384 tile 1.4x).
        self.tile = 512

    def __repr__(self) -> str:
        return f"<Upscaler {self.model_id} x{self.scale} {self.architecture} on {self.device}>"

    def __call__(self, image: np.ndarray, size: tuple[int, int], cancel: Optional[CancelToken] = None) -> np.ndarray:
        """``image`` enlarged to ``size`` = (width, height): x``scale`` passes until it covers the size (the
        last pass from an area-reduced copy, so it makes no more pixels than needed), then area-resized.
        ``cancel`` is checked between tiles (a 6000 x 4000 background takes minutes on a CPU)."""
        import cv2

        width, height = size
        current = np.ascontiguousarray(image)
        while current.shape[1] < width or current.shape[0] < height:
            need_w, need_h = math.ceil(width / self.scale), math.ceil(height / self.scale)
            if need_w < current.shape[1] and need_h < current.shape[0]:
                # The last pass: no more pixels than x``scale`` of the output needs (area keeps the detail).
                current = cv2.resize(current, (need_w, need_h), interpolation=cv2.INTER_AREA)
            current = self.enlarge(current, cancel)
        if current.shape[:2] != (height, width):
            current = cv2.resize(current, (width, height), interpolation=cv2.INTER_AREA)
        return current

    def enlarge(self, image: np.ndarray, cancel: Optional[CancelToken] = None) -> np.ndarray:
        """One x``scale`` pass over an H x W x 3 uint8 image, in feathered tiles."""
        height, width = image.shape[:2]
        s = self.scale
        pad = self.context + FEATHER
        # Reflected borders: the photo's own edge gets context like any tile edge (no dark rim).
        padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect" if min(height, width) > pad
                        else "edge")
        total = np.zeros((height * s, width * s, 3), np.float32)
        weight = np.zeros((height * s, width * s, 1), np.float32)
        for y0, y1 in _spans(height, self.tile):
            for x0, x1 in _spans(width, self.tile):
                # Kept: the core plus the feather band (inside the image); read: that plus the context.
                ky0, ky1 = max(0, y0 - FEATHER), min(height, y1 + FEATHER)
                kx0, kx1 = max(0, x0 - FEATHER), min(width, x1 + FEATHER)
                tile = padded[ky0 - self.context + pad:ky1 + self.context + pad,
                              kx0 - self.context + pad:kx1 + self.context + pad]
                check(cancel)
                out = self._run(tile)
                c = self.context * s
                out = out[c:out.shape[0] - c, c:out.shape[1] - c]
                wy = _ramp(ky0, ky1, y0, y1, height, s)
                wx = _ramp(kx0, kx1, x0, x1, width, s)
                w = (wy[:, None] * wx[None, :])[..., None]
                total[ky0 * s:ky1 * s, kx0 * s:kx1 * s] += out * w
                weight[ky0 * s:ky1 * s, kx0 * s:kx1 * s] += w
        return np.clip(np.rint(total / weight), 0, 255).astype(np.uint8)

    def _run(self, tile: np.ndarray) -> np.ndarray:
        """The network on one uint8 tile: float H*s x W*s x 3 in 0-255."""
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(tile)).to(self.device)
            x = x.permute(2, 0, 1)[None].to(self.dtype) / 255.0
            y = self.model(x).float().clamp_(0.0, 1.0)[0].permute(1, 2, 0)
            return (y * 255.0).cpu().numpy()


def _spans(length: int, tile: int) -> list[tuple[int, int]]:
    """Equal tile cores covering ``range(length)``, none longer than ``tile``."""
    count = max(1, math.ceil(length / tile))
    edges = [round(i * length / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _ramp(k0: int, k1: int, c0: int, c1: int, length: int, s: int) -> np.ndarray:
    """Weights over the kept span [k0, k1) (output pixels): 1 inside the core, a linear cross-fade over
    the 2 x FEATHER band around each core edge shared with a neighbour (two neighbours' weights sum to 1)."""
    pos = (np.arange(k0 * s, k1 * s, dtype=np.float32) + 0.5) / s  # output pixel centres, in input units
    w = np.ones_like(pos)
    if c0 > 0:
        w = np.minimum(w, np.clip((pos - (c0 - FEATHER)) / (2 * FEATHER), 0.0, 1.0))
    if c1 < length:
        w = np.minimum(w, np.clip(((c1 + FEATHER) - pos) / (2 * FEATHER), 0.0, 1.0))
    return w


@dataclass(frozen=True)
class UpscalerFile:
    """Where an upscaler's weights are and what they are (the recipe's record)."""

    model_id: str
    path: Path
    sha256: str


def load_upscaler(path: Path, model_id: str, device: Any, sha256: str) -> Upscaler:
    """The upscaler in ``path``: weights read safely, the architecture recognised by spandrel.

    A pickle asking for code, a damaged file or weights of another kind are refused in one line
    naming the file (``UnsafeWeightsError``)."""
    from spandrel import ModelLoader, UnsupportedModelError, canonicalize_state_dict

    from packshot.core.models.safe_load import load_state_dict

    path = Path(path)
    state = canonicalize_state_dict(load_state_dict(path))  # unwraps Real-ESRGAN's "params_ema"/"params"
    try:
        descriptor = ModelLoader("cpu").load_from_state_dict(state)
    except UnsupportedModelError:
        raise UnsafeWeightsError(f"{path.name}: not an upscaler Packshot knows (expected Real-ESRGAN RRDBNet "
                                 "or SRVGGNetCompact weights).") from None
    except (KeyError, ValueError, RuntimeError, IndexError) as exc:  # detected, but the tensors do not fit
        raise UnsafeWeightsError(f"{path.name}: damaged upscaler weights ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:160]}).") from None
    if descriptor.architecture.id not in ARCHITECTURES or descriptor.input_channels != 3:
        raise UnsafeWeightsError(f"{path.name}: a {descriptor.architecture.name} model, not one of the upscalers "
                                 "Packshot uses (Real-ESRGAN RRDBNet or SRVGGNetCompact, RGB).")
    if descriptor.scale not in (2, 4):
        raise UnsafeWeightsError(f"{path.name}: enlarges x{descriptor.scale}; Packshot's upscalers enlarge x2 or x4.")
    log.info("Loaded upscaler %s (%s x%d) from %s", model_id, descriptor.architecture.id, descriptor.scale, path)
    return Upscaler(descriptor, model_id, sha256, path, device)


def loaded_upscaler(runtime: Runtime, model_id: str, device: Any) -> Upscaler:
    """The learned background upscaler ``model_id`` on ``device``, once per ``runtime``, weights file (its
    size and mtime too) and device."""
    path = weights_path(runtime.store, model_id)  # ModelMissingError naming the download
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, str(device))
    return runtime.cached("upscalers", key, lambda: load_upscaler(path, model_id, device, weights_sha256(path)))


def weights_path(store: ModelStore, model_id: str) -> Path:
    """The weights file of the upscaler ``model_id`` (``ModelMissingError`` naming the download when absent)."""
    from packshot.core.models.integrity import weights_file

    return weights_file(store.spec(model_id), store.path(model_id))


def weights_sha256(path: Path) -> str:
    """The sha256 of an upscaler's weights, hashed from the file itself (a lock file's record would not see
    weights swapped for others of the same size; 67 MB hash in well under a second)."""
    from packshot.core.models.integrity import sha256_file

    return sha256_file(path)


def upscaler_file(store: ModelStore, model_id: str) -> UpscalerFile:
    """The weights file of ``model_id`` and its sha256."""
    path = weights_path(store, model_id)
    return UpscalerFile(model_id, path, weights_sha256(path))


def recorded_upscaler(models: dict) -> Optional[tuple[str, Optional[str]]]:
    """(id, sha256) of the upscaler a recipe's ``models`` names, or None."""
    for model_id, info in models.items():
        if isinstance(info, dict) and info.get("role") == RECIPE_ROLE:
            sha = info.get("sha256")
            return model_id, sha if isinstance(sha, str) else None
    return None


def engine_models(models: dict) -> list[str]:
    """The recipe's model ids other than its upscaler (the engine's own models)."""
    return [m for m, info in models.items() if not (isinstance(info, dict) and info.get("role") == RECIPE_ROLE)]


def replay_settings(settings: GenerationSettings, recorded: dict, models: dict) -> GenerationSettings:
    """The settings a replay renders with, so that it uses exactly the upscaler the output was made with.

    ``recorded``: the recipe's settings. A recorded upscaler is required (``detail upscale``, or ``repaint``
    as recorded); a final
    render that names none was made without one (an older recipe, or no model then): ``detail off``.
    A preview replayed at final quality keeps its detail setting and gets what this machine has."""
    from dataclasses import replace

    found = recorded_upscaler(models)
    if found is not None:
        detail = "repaint" if str(settings.detail) == "repaint" else "upscale"
        return replace(settings, detail=detail, upscaler=found[0])
    if recorded.get("quality", "final") == "final":
        return replace(settings, detail="off", upscaler=None)
    return settings


def record_ran(recipe: Any, runtime: Runtime, device: str) -> None:
    """A recipe rendered at final quality from a preview's (``replay --quality final``) made to say the pass that
    ran and its upscaler, as a batch's final recipe does, so replaying the new file makes it again."""
    from packshot.core.generation.engines import engine_for
    from packshot.core.jobs.render import check_recipe

    if recipe.engine not in UPSCALED_ENGINES or recipe.settings.get("quality", "final") != "final":
        return
    model = next(iter(engine_models(recipe.models)), None) if recipe.engine != "si2" else None  # as render_from_recipe
    engine = engine_for(runtime, recipe.engine, device, model=model)
    ran = engine.with_resolved_detail(check_recipe(recipe))  # a preview's request, resolved as the render did
    recipe.settings = {**recipe.settings, "detail": str(ran.detail), "upscaler": ran.upscaler}
    recipe.models = {**{m: recipe.models[m] for m in engine_models(recipe.models)}, **engine.upscaler_record(ran)}


def check_replay_device(settings: GenerationSettings, models: dict, device_type: str, output_name: str) -> None:
    """A detail pass recorded on a GPU is not replayed on the CPU: it would take many minutes per photo and
    could not give the same image (other kernels). Refused in one line saying what it would take."""
    found = recorded_upscaler(models)
    if str(settings.detail) != "repaint" or found is None or str(settings.quality) != "final":
        return  # a preview runs no upscale or detail pass
    made_on = str((models.get(found[0]) or {}).get("device") or "")
    here = str(device_type).split(":")[0]
    if made_on.split(":")[0] in ("cuda", "mps") and here == "cpu":
        raise PackshotError(f"{output_name} was made with the detail pass (--detail repaint) on a GPU ({made_on}); "
                            "this replay would run on the CPU, where it takes many minutes and cannot give the "
                            f"same image. Replay it on a machine with a {made_on.upper()} GPU (--device "
                            f"{made_on.split(':')[0]}), or make a new output here with --detail upscale.")


def check_replay_weights(store: ModelStore, models: dict, output_name: str) -> None:
    """A replay's upscaler must be the recorded one, byte for byte (else the image would differ)."""
    found = recorded_upscaler(models)
    if found is None or found[1] is None:
        return
    model_id, sha = found
    local = upscaler_file(store, model_id)  # ModelMissingError with the fix
    if local.sha256 != sha:
        raise PackshotError(f"The upscaler {model_id} here ({local.sha256[:12]}...) is not the one that made "
                            f"{output_name} ({sha[:12]}...); replaying would not give the same image.")
