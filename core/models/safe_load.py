"""Loading weight files without ever executing code stored in them."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

from core.errors import UnsafeWeightsError


def load_state_dict(path: Path | str, device: str = "cpu") -> dict:
    """Tensors from a ``.safetensors`` file, or from a ``.pth``/``.bin`` through the restricted unpickler.

    ``torch.load(weights_only=True)`` only rebuilds tensors and plain containers; a pickle that
    asks for any other callable is refused before it runs, and we report that as unsafe.
    """
    path = Path(path)
    if not path.is_file():
        raise UnsafeWeightsError(f"Weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device=device)
        except Exception as exc:  # safetensors raises its own error types
            raise UnsafeWeightsError(f"{path.name}: not a valid safetensors file ({exc}).") from exc

    import torch

    try:
        state = torch.load(str(path), map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeWeightsError(
            f"{path.name}: refused to load: the file asks to run code while loading "
            f"(only plain tensors are accepted). Details: {str(exc).splitlines()[0]}"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        raise UnsafeWeightsError(f"{path.name}: the weights file is damaged or truncated ({exc}).") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # some training scripts nest the weights
    if not isinstance(state, dict):
        raise UnsafeWeightsError(f"{path.name}: expected a state dict, found {type(state).__name__}.")
    return state
