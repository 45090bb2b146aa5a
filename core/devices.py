"""Choosing the compute device and its precision: CUDA, then Apple's MPS, then the CPU.

The rules live here so that the generator, SAM and the ONNX priors all make the same choice.
The probes (is CUDA usable, is MPS built and usable, how much memory) are plain functions so that
tests can stand in for hardware this machine does not have.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
# Below this much unified memory an Apple GPU slices attention (diffusers' own advice for MPS):
# SD2 at 512 px needs several GB of attention activations at once.
MPS_SLICE_BELOW_GB = 64.0


def cuda_usable() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def mps_usable() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_built() and backend.is_available())


def pick_device(preference: str = "auto") -> torch.device:
    """``auto``: CUDA, then MPS, then CPU. An explicit device that is not usable falls back to CPU loudly."""
    import torch

    preference = (preference or os.environ.get("PACKSHOT_DEVICE", "auto")).lower()
    if preference not in DEVICE_CHOICES and not preference.startswith("cuda:"):
        raise ValueError(f"Unknown device '{preference}': choose one of {', '.join(DEVICE_CHOICES)}.")
    if preference == "cpu":
        return torch.device("cpu")
    if preference in ("auto", "cuda") or preference.startswith("cuda:"):
        if cuda_usable():
            return torch.device("cuda" if preference == "auto" else preference)
    if preference in ("auto", "mps") and mps_usable():
        return torch.device("mps")
    if preference != "auto":
        log.warning("The %s device was requested but is not usable here; running on the CPU.", preference)
    return torch.device("cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    """fp16 where the device does it well (CUDA, MPS); fp32 on the CPU.

    CPUs like ours have no fast half or bf16 kernels (bf16 measured ~80x slower), so never there.
    """
    import torch

    return torch.float16 if device.type in ("cuda", "mps") else torch.float32


def cuda_memory_gb(device: torch.device) -> float:
    import torch

    if device.type != "cuda":
        return 0.0
    return torch.cuda.get_device_properties(device).total_memory / 1e9


def system_memory_gb() -> float:
    import psutil

    return psutil.virtual_memory().total / 1e9


@dataclass(frozen=True)
class DevicePlan:
    """How the diffusion models run on a device: precision, attention slicing, noise on the CPU."""

    device: torch.device
    dtype: torch.dtype
    attention_slicing: bool = False

    @property
    def label(self) -> str:
        return f"{self.device.type} {str(self.dtype).replace('torch.', '')}"


def plan_for(device: torch.device, memory_gb: float | None = None) -> DevicePlan:
    """The dtype and memory rules for ``device``.

    MPS pitfalls handled here and in the pipeline: MPS has no float64 (our noise and scheduler maths
    are drawn on the CPU in float32, then moved), and on Macs with little unified memory attention
    is sliced to keep peak memory down.
    """
    dtype = default_dtype(device)
    slicing = False
    if device.type == "mps":
        memory = system_memory_gb() if memory_gb is None else memory_gb
        slicing = memory < MPS_SLICE_BELOW_GB
    return DevicePlan(device=device, dtype=dtype, attention_slicing=slicing)


def onnx_providers(device: str = "auto", available: Sequence[str] | None = None) -> list:
    """onnxruntime execution providers for ``device``, best first, always ending with the CPU.

    CUDA when present (unless the CPU was asked for); CoreML on Apple machines for ``auto``/``mps``.
    """
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    device = (device or "auto").lower()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    providers: list = []
    if (device == "auto" or device.startswith("cuda")) and "CUDAExecutionProvider" in available:
        device_id = int(device.split(":", 1)[1]) if device.startswith("cuda:") else 0
        providers.append(("CUDAExecutionProvider", {"device_id": device_id}))
    if device in ("auto", "mps") and "CoreMLExecutionProvider" in available:
        providers.append("CoreMLExecutionProvider")
    if not providers and device != "auto":
        log.warning("The %s device was requested but onnxruntime has no provider for it; using the CPU.", device)
    return [*providers, "CPUExecutionProvider"]


def describe() -> str:
    """One line for logs and `packshot models list`: what `auto` would use here."""
    device = pick_device("auto")
    plan = plan_for(device)
    return f"{plan.label} on {platform.machine() or 'unknown'} ({platform.system()})"
