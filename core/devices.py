"""Choosing the compute device and precision: CUDA when present, CPU otherwise."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cuda", "cpu")


def pick_device(preference: str = "auto") -> torch.device:
    """``auto`` takes CUDA if available; an explicit ``cuda`` without a GPU falls back to CPU loudly."""
    import torch

    preference = (preference or os.environ.get("PACKSHOT_DEVICE", "auto")).lower()
    if preference not in DEVICE_CHOICES and not preference.startswith("cuda:"):
        raise ValueError(f"Unknown device '{preference}': choose one of {', '.join(DEVICE_CHOICES)}.")
    if preference == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda" if preference == "auto" else preference)
    if preference != "auto":
        import logging

        logging.getLogger(__name__).warning("CUDA was requested but no GPU is usable; running on the CPU.")
    return torch.device("cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA (halves memory, tensor cores); fp32 on CPU (bf16 is ~80x slower on CPUs like ours)."""
    import torch

    return torch.float16 if device.type == "cuda" else torch.float32


def cuda_memory_gb(device: torch.device) -> float:
    import torch

    if device.type != "cuda":
        return 0.0
    return torch.cuda.get_device_properties(device).total_memory / 1e9
