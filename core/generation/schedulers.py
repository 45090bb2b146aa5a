"""Scheduler by name, built fresh for every call from the model folder's own config.

Schedulers keep per-run state (step index, multistep history), so sharing one across calls or
threads would mix runs; building one from a config dict costs microseconds.
"""

from __future__ import annotations

from typing import Any

SCHEDULER_CLASSES = {
    "unipc": "UniPCMultistepScheduler",  # as published
    "ddim": "DDIMScheduler",
    "euler": "EulerDiscreteScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
}


def make_scheduler(name: str, config: dict) -> Any:
    """A new scheduler of kind ``name`` with the timestep/beta settings of ``config``."""
    import diffusers

    try:
        cls = getattr(diffusers, SCHEDULER_CLASSES[name])
    except KeyError:
        raise ValueError(f"Unknown scheduler '{name}': choose one of {', '.join(SCHEDULER_CLASSES)}.") from None
    extra = {"algorithm_type": "dpmsolver++"} if name == "dpm++" else {}
    return cls.from_config(config, **extra)
