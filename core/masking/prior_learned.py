"""Learned salient-object priors run with onnxruntime: IS-Net and BiRefNet share one class.

Both networks map one RGB image squashed to a fixed 1024 x 1024 (aspect ratio not kept: they were
trained that way) to a one-channel object map at input resolution. What differs is captured by an
``OnnxPriorSpec`` (input size, mean/std, which output, whether that output is logits):

- IS-Net "general use" (DIS, Qin et al. ECCV 2022), ``isnet-general-use``: input /255 minus
  (0.485, 0.456, 0.406), std 1.0 (rembg's normalisation for this export; DIS itself subtracts 0.5);
  the FIRST output is the sigmoid of the finest side output d1, the others are coarser side outputs.
- BiRefNet (Zheng et al., CAAI AIR 2024), ``birefnet-general`` (Swin-L) and ``birefnet-general-lite``
  (Swin-T): input /255 with ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), as
  the authors' inference code and rembg feed it; the first (in the released exports, only) output
  is the final prediction as LOGITS, 1 x 1 x 1024 x 1024: the authors and rembg apply a sigmoid.

Post-processing as the reference code for both: min-max stretch of the map, back to the photo's
size. Here the soft map is resized to the photo's full resolution first and thresholded there, so
the mask is aligned with the photo pixel for pixel whatever its size. The ONNX file is data: it is
parsed by onnxruntime, no custom-op library is registered and nothing in the model folder runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from packshot.core.errors import UnsafeWeightsError
from packshot.core.masking.prior import PriorResult

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class OnnxPriorSpec:
    """What one exported salient-object network expects and returns."""

    name: str  # the prior's name (PriorResult details, mask sources)
    model_id: str  # its entry in resources/models.json
    label: str  # the network's name in messages
    side: int = 1024  # fixed input size when the export leaves it dynamic
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    output: int = 0  # index of the object map among the outputs
    logits: bool = False  # True: always apply a sigmoid; False: probabilities (sigmoid only if out of [0, 1])


ISNET = OnnxPriorSpec("isnet", "isnet-general-use", "IS-Net", mean=IMAGENET_MEAN, std=(1.0, 1.0, 1.0))
BIREFNET = OnnxPriorSpec("birefnet", "birefnet-general", "BiRefNet", logits=True)
BIREFNET_LITE = OnnxPriorSpec("birefnet-lite", "birefnet-general-lite", "BiRefNet", logits=True)
SPECS: dict[str, OnnxPriorSpec] = {s.name: s for s in (ISNET, BIREFNET, BIREFNET_LITE)}

# kept for callers of the IS-Net-only module
MODEL_ID = ISNET.model_id
DEFAULT_SIDE = ISNET.side
MEAN, STD = ISNET.mean, ISNET.std

class OnnxPrior:
    """Callable prior: ``OnnxPrior(spec, runtime)(rgb8) -> PriorResult`` (same interface as ClassicPrior).

    The onnxruntime session comes from the runtime (``onnx_session``), which opens it once per model
    file and shares it with every prior it serves (a 200 MB - 1 GB model takes seconds to load; a
    batch calls it for every photo).
    """

    def __init__(self, spec: OnnxPriorSpec, runtime: Runtime, device: str = "auto",
                 threshold: float = 0.5, border: float = 0.04) -> None:
        from packshot.core.models.integrity import weights_file

        store = runtime.store

        self.spec = spec
        self.name = spec.name
        folder = store.path(spec.model_id)  # ModelMissingError with size and fix when absent
        self.model_id = spec.model_id
        self.path = weights_file(store.spec(spec.model_id), folder)
        self.session = onnx_session(runtime, self.path, device, spec.model_id)
        self.threshold = threshold  # on the min-max stretched map, as the reference post-processing
        self.border = border  # width of the frame strip (fraction of the short side) for edge_touch
        self.input_name, self.input_hw = _check_io(self.session, self.path, spec)

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def probabilities(self, rgb8: np.ndarray) -> np.ndarray:
        """The network's object probability at model resolution (h x w float32, in [0, 1])."""
        out = self.session.run(None, {self.input_name: self.preprocess(rgb8)})[self.spec.output]
        raw = np.asarray(out, np.float32).reshape(out.shape[-2:])
        if self.spec.logits or raw.min() < 0.0 or raw.max() > 1.0:  # logits, or an export without its sigmoid
            # exp(-x) overflows float32 for x < -88: harmless (1 / inf = 0) but noisy, so clip first
            return (1.0 / (1.0 + np.exp(-np.clip(raw, -60.0, 60.0)))).astype(np.float32)
        return raw

    def preprocess(self, rgb8: np.ndarray) -> np.ndarray:
        """1 x 3 x H x W float32 input: Lanczos resize (antialiased), [0, 1], mean/std per channel."""
        from PIL import Image

        h, w = self.input_hw
        rgb8 = np.ascontiguousarray(rgb8[..., :3], dtype=np.uint8)
        small = np.asarray(Image.fromarray(rgb8).resize((w, h), Image.Resampling.LANCZOS), np.float32)
        # /255 (as the authors' code); rembg divides by the image's max, which is 255 for nearly every photo
        x = (small / 255.0 - np.array(self.spec.mean, np.float32)) / np.array(self.spec.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    def __call__(self, rgb8: np.ndarray) -> PriorResult:
        import cv2

        start = time.perf_counter()
        full_h, full_w = rgb8.shape[:2]
        prob = self.probabilities(rgb8)
        low, high = float(prob.min()), float(prob.max())
        spread = high - low
        if spread < 1e-6:  # a flat map: the model sees no object (min-max would divide by zero)
            mask = np.zeros((full_h, full_w), bool)
        else:
            # bilinear back to the photo's pixel grid (half-pixel centres, like the reference code), then
            # the reference min-max stretch and threshold at full resolution
            full = cv2.resize(prob, (full_w, full_h), interpolation=cv2.INTER_LINEAR)
            mask = full >= low + self.threshold * spread  # (p - min) / (max - min) >= t, no 2nd full-size copy
        score, evidence = self._confidence(prob, mask, spread)
        details = {
            "prior": self.name, "model_id": self.model_id, "work_size": [self.input_hw[1], self.input_hw[0]],
            "providers": self.providers, "coverage": round(float(mask.mean()), 4),
            "seconds": round(time.perf_counter() - start, 3), **evidence,
        }
        return PriorResult(mask, score, details)

    def _confidence(self, prob: np.ndarray, mask: np.ndarray, spread: float) -> tuple[float, dict]:
        """How much to trust the map: decisive probabilities, a real object, not spilling along the frame.

        decisiveness = mean |2p - 1| (1 when every pixel is surely object or surely background);
        spread = max - min of the map (a map the stretch had to blow up is a weak one);
        edge_touch = share of the frame strip inside the mask (a mask hugging the border has
        usually swallowed background, as in the classic prior).
        """
        if not mask.any():
            return 0.0, {"decisiveness": 0.0, "spread": round(spread, 4), "edge_touch": 0.0}
        h, w = mask.shape
        width = max(1, int(round(self.border * min(h, w))))
        strip = np.zeros((h, w), bool)
        strip[:width, :] = strip[-width:, :] = True
        strip[:, :width] = strip[:, -width:] = True
        edge_touch = float(mask[strip].mean())
        decisiveness = float(np.abs(2.0 * prob - 1.0).mean())
        score = decisiveness * min(1.0, spread) * (1.0 - edge_touch)
        return float(np.clip(score, 0.0, 1.0)), {
            "decisiveness": round(decisiveness, 4), "spread": round(spread, 4), "edge_touch": round(edge_touch, 4)}


class IsNetPrior(OnnxPrior):
    """IS-Net "general use" (``isnet-general-use``)."""

    def __init__(self, runtime: Runtime, device: str = "auto", model_id: str = MODEL_ID,
                 threshold: float = 0.5, border: float = 0.04) -> None:
        spec = ISNET if model_id == ISNET.model_id else replace(ISNET, model_id=model_id)
        super().__init__(spec, runtime, device, threshold, border)


class BiRefNetPrior(OnnxPrior):
    """BiRefNet general: ``lite=False`` the Swin-L model, ``lite=True`` the Swin-T one."""

    def __init__(self, runtime: Runtime, device: str = "auto", lite: bool = False,
                 threshold: float = 0.5, border: float = 0.04) -> None:
        super().__init__(BIREFNET_LITE if lite else BIREFNET, runtime, device, threshold, border)


def providers_for(device: str = "auto") -> list:
    """onnxruntime execution providers for ``device``: CUDA first when usable (unless "cpu"), then CPU."""
    import onnxruntime as ort

    device = (device or "auto").lower()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        device_id = int(device.split(":", 1)[1]) if device.startswith("cuda:") else 0
        return [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
    if device != "auto":
        log.warning("CUDA was requested for a learned prior but onnxruntime has no CUDA provider here; "
                    "using the CPU.")
    return ["CPUExecutionProvider"]


def runs_on_gpu(device: str = "auto") -> bool:
    """Whether a session for ``device`` would run on a GPU (which BiRefNet variant to prefer).

    onnxruntime-gpu lists its CUDA provider even on a machine without a usable GPU (the session then
    quietly runs on the CPU), so a CUDA provider counts only when torch also sees a GPU.
    """
    names = [p[0] if isinstance(p, tuple) else p for p in providers_for(device)]
    if all(n == "CPUExecutionProvider" for n in names):
        return False
    try:
        import torch
    except ImportError:  # no torch to ask: trust onnxruntime
        return True
    return bool(torch.cuda.is_available())


def onnx_session(runtime: Runtime, path: Path, device: str = "auto", model_id: str = "") -> Any:
    """One ``onnxruntime.InferenceSession`` per ``runtime``, model file (its size and mtime too) and device."""
    path = Path(path).resolve()
    stat = path.stat()
    providers = providers_for(device)
    key = (str(path), stat.st_size, stat.st_mtime_ns, repr(providers))
    return runtime.cached("ONNX sessions", key, lambda: open_session(path, providers, model_id))


def open_session(path: Path, providers: list, model_id: str = MODEL_ID) -> Any:
    """A new ``onnxruntime.InferenceSession`` for ``path`` (``onnx_session`` keeps one per file and runtime)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: ORT's warnings are noise to a photographer
    start = time.perf_counter()
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own (Fail, InvalidProtobuf, ...) types
        raise UnsafeWeightsError(
            f"{path} is not a loadable ONNX model ({exc.__class__.__name__}: {str(exc)[:300]}). "
            f"Check it with `packshot models verify {model_id}` and download it again if it is damaged."
        ) from exc
    log.info("Loaded %s in %.1f s (%s)", Path(path).name, time.perf_counter() - start,
             ", ".join(session.get_providers()))
    return session


def _check_io(session: Any, path: Path, spec: OnnxPriorSpec = ISNET) -> tuple[str, tuple[int, int]]:
    """The input's name and (H, W); refuses a model that does not map one RGB image to one map."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape = list(inputs[0].shape) if inputs else []
    if len(inputs) != 1 or len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3) or not outputs:
        raise UnsafeWeightsError(
            f"{path} does not look like {spec.label}: expected one 1 x 3 x H x W image input, found "
            f"{[(i.name, i.shape) for i in inputs]}.")
    if spec.output >= len(outputs):
        raise UnsafeWeightsError(f"{path} does not look like {spec.label}: it has {len(outputs)} output(s), "
                                 f"the object map is output {spec.output + 1}.")
    out_shape = list(outputs[spec.output].shape)
    if len(out_shape) != 4 or (isinstance(out_shape[1], int) and out_shape[1] != 1):
        raise UnsafeWeightsError(f"{path} does not look like {spec.label}: its object-map output "
                                 f"{outputs[spec.output].name!r} has shape {out_shape}, expected 1 x 1 x H x W.")
    h, w = (d if isinstance(d, int) and d > 0 else spec.side for d in shape[2:])
    return inputs[0].name, (h, w)
