"""Before committing hours and gigabytes: a timed probe of the real step, and disk-space checks."""

from __future__ import annotations

import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from packshot.core.errors import PackshotError

GB = 1024 ** 3


@dataclass
class Estimate:
    seconds_per_step: float  # one optimizer step (all accumulated micro-batches)
    steps_left: int
    peak_memory_bytes: int  # GPU memory on CUDA, process memory (RSS peak) on the CPU
    memory_kind: str  # "GPU" or "RAM"
    checkpoint_bytes: int

    @property
    def total_seconds(self) -> float:
        return self.seconds_per_step * self.steps_left

    def to_dict(self) -> dict:
        return dict(asdict(self), total_seconds=self.total_seconds)

    def text(self) -> str:
        return (f"About {format_duration(self.total_seconds)} for {self.steps_left} steps "
                f"({self.seconds_per_step:.2f} s/step), peak {self.memory_kind} {self.peak_memory_bytes / GB:.1f} GB, "
                f"{self.checkpoint_bytes / GB:.2f} GB per checkpoint (measured on 1-2 probe steps).")


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def peak_process_memory() -> int:
    """Peak resident memory of this process so far, in bytes."""
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS reports bytes, Linux KiB
    except ImportError:  # Windows
        import psutil

        info = psutil.Process().memory_info()
        return int(getattr(info, "peak_wset", info.rss))


def checkpoint_bytes(parameters) -> int:
    """fp32 weights + AdamW's two moments, plus a little for configs and RNG state."""
    count = sum(p.numel() for p in parameters)
    return count * 4 * 3 + 1_000_000


def check_disk(folder: Path, need: int, what: str) -> None:
    """Refuse before writing rather than leave a half-written checkpoint on a full disk."""
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    margin = 256 * 1024 ** 2
    if free < need + margin:
        raise PackshotError(
            f"Not enough disk space in {folder} for {what}: it needs about {(need + margin) / GB:.2f} GB and "
            f"{free / GB:.2f} GB are free. Free some space (or use another models folder), then run the "
            "training again: it resumes from the last checkpoint.")
