"""What machine is this, and which torch build fits it? Standard library only: runs before any install.

The rule, from PyTorch's own install matrix and NVIDIA's driver table (CUDA minor-version
compatibility): CUDA 13 wheels need driver >= 580, CUDA 12.6 wheels need >= 525.60 on Linux
(>= 528.33 on Windows). Apple Silicon takes the default PyPI wheel, which carries MPS. Anything
else gets the CPU wheel.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Optional

TORCH_PIN = "torch==2.14.1"
TORCHVISION_PIN = "torchvision==0.29.1"
PYTORCH_INDEX = "https://download.pytorch.org/whl/{tag}"
# (minimum driver on Linux, minimum on Windows, wheel tag), best first
CUDA_BUILDS = (((580, 0), (580, 0), "cu130"), ((525, 60), (528, 33), "cu126"))


@dataclass(frozen=True)
class Machine:
    system: str  # Linux | Darwin | Windows
    arch: str  # x86_64 | arm64 | AMD64 ...
    gpu: Optional[str] = None  # "NVIDIA GeForce RTX 4070" / "Apple M2" / None
    driver: Optional[tuple[int, ...]] = None  # NVIDIA driver version

    @property
    def apple_silicon(self) -> bool:
        return self.system == "Darwin" and self.arch in ("arm64", "aarch64")


@dataclass(frozen=True)
class TorchChoice:
    tag: str  # cu130 | cu126 | cpu | default (PyPI's own wheel: macOS)
    index_url: Optional[str]  # None: the default index
    reason: str

    def packages(self) -> list[str]:
        return [TORCH_PIN, TORCHVISION_PIN]


def parse_driver(text: str) -> Optional[tuple[int, ...]]:
    try:
        return tuple(int(part) for part in text.strip().split("."))
    except ValueError:
        return None


def query_nvidia(run: Callable[..., subprocess.CompletedProcess] = subprocess.run
                 ) -> tuple[Optional[str], Optional[tuple[int, ...]]]:
    """(GPU name, driver version) from nvidia-smi, or (None, None) when there is no usable NVIDIA GPU."""
    if shutil.which("nvidia-smi") is None:
        return None, None
    try:
        done = run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                   capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None, None
    if done.returncode != 0 or not done.stdout.strip():
        return None, None
    name, _, driver = done.stdout.strip().splitlines()[0].rpartition(",")
    return name.strip() or None, parse_driver(driver)


def detect() -> Machine:
    system, arch = platform.system(), platform.machine()
    if system == "Darwin":
        return Machine(system, arch, gpu="Apple GPU (MPS)" if arch in ("arm64", "aarch64") else None)
    gpu, driver = query_nvidia()
    return Machine(system, arch, gpu=gpu, driver=driver)


def choose_torch(machine: Machine) -> TorchChoice:
    if machine.system == "Darwin":
        if machine.apple_silicon:
            return TorchChoice("default", None, "Apple Silicon: the standard build, which uses the GPU through MPS")
        return TorchChoice("default", None, "Intel Mac: the standard build (CPU)")
    if machine.gpu and machine.driver:
        for linux_min, windows_min, tag in CUDA_BUILDS:
            minimum = windows_min if machine.system == "Windows" else linux_min
            if machine.driver >= minimum:
                driver = ".".join(map(str, machine.driver))
                return TorchChoice(tag, PYTORCH_INDEX.format(tag=tag),
                                   f"{machine.gpu} with driver {driver}: the CUDA build {tag}")
        driver = ".".join(map(str, machine.driver))
        return TorchChoice("cpu", PYTORCH_INDEX.format(tag="cpu"),
                           f"{machine.gpu} found, but driver {driver} is too old for CUDA 12 "
                           "(update the NVIDIA driver and run the installer again); using the CPU build")
    return TorchChoice("cpu", PYTORCH_INDEX.format(tag="cpu"), "no supported GPU found: the CPU build")
