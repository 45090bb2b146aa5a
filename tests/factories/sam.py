"""Tiny SAM for tests: real segment_anything classes, embed dim 32, depth 2, random weights.

Written as a state dict (safetensors) into ``<models_dir>/<model_id>/`` so tests load it through
the model store and ``packshot.core.masking.sam_models.sam_for``, the path the published checkpoints take.
"""

from __future__ import annotations

from pathlib import Path


def write_tiny_sam(models_dir: Path, model_id: str = "sam-vit_b", seed: int = 0,
                   filename: str = "sam_tiny.safetensors") -> Path:
    """Save a randomly initialised tiny SAM; returns the checkpoint path."""
    import torch
    from safetensors.torch import save_file

    from packshot.core.masking.sam_models import SAM_BUILDERS

    torch.manual_seed(seed)
    model = SAM_BUILDERS["tiny"]()
    folder = Path(models_dir) / model_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def write_full_size_sam(models_dir: Path, variant: str = "vit_b", seed: int = 0) -> Path:
    """Full-size random SAM (exactly the published shapes) for benchmarks; vit_b is ~360 MB."""
    import torch
    from safetensors.torch import save_file

    from packshot.core.masking.sam_models import SAM_BUILDERS

    torch.manual_seed(seed)
    model = SAM_BUILDERS[variant]()
    folder = Path(models_dir) / f"sam-{variant}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sam_{variant}_random.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path
