"""Loading weight files without ever executing code stored in them."""

from __future__ import annotations

import logging
import pickle
import zipfile
from pathlib import Path

from packshot.core.errors import UnsafeWeightsError, pickle_refused

log = logging.getLogger(__name__)


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
        # torch's text advises weights_only=False, the unsafe way out: the log keeps only what it refused.
        log.info("%s: a pickle asking for code torch's weights-only loader refuses (%s)", path, _refused_global(exc))
        raise pickle_refused(path) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        if "weights_only" in str(exc):
            raise pickle_refused(path) from exc
        raise UnsafeWeightsError(f"{path.name}: the weights file is damaged or truncated ({exc}).") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # some training scripts nest the weights
    if not isinstance(state, dict):
        raise UnsafeWeightsError(f"{path.name}: expected a state dict, found {type(state).__name__}.")
    return state


def _refused_global(exc: BaseException) -> str:
    """The line of torch's refusal that names what the pickle asked for (e.g. 'GLOBAL posix.system')."""
    lines = [line.strip() for line in str(exc).splitlines() if "GLOBAL" in line or "Unsupported" in line]
    return lines[0] if lines else type(exc).__name__
