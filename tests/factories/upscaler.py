"""Random-weight Real-ESRGAN upscalers in the real on-disk formats, tiny for tests and full-size for benchmarks.

``write_compact`` writes an SRVGGNetCompact state dict (the layout of ``realesr-general-x4v3.pth``:
``body.N.weight``) and ``write_rrdb`` an RRDBNet one (the layout of ``RealESRGAN_x4plus.pth``:
``conv_first``, ``body.N.rdbK.convJ``, ``conv_up1`` ...), as safetensors or as a ``.pth`` with the
tensors under ``params``/``params_ema`` like the published files. Both load through
``packshot.core.generation.upscale.load_upscaler``, the function that loads the real weights.
"""

from __future__ import annotations

from pathlib import Path

import torch

from packshot.core.generation.upscale import CPU_UPSCALER, GPU_UPSCALER
from packshot.core.models.store import ModelStore

FULL_COMPACT = dict(num_feat=64, num_conv=32)  # realesr-general-x4v3
FULL_RRDB = dict(num_feat=64, num_block=23, num_grow=32)  # RealESRGAN_x4plus
TINY_COMPACT = dict(num_feat=8, num_conv=4)
TINY_RRDB = dict(num_feat=8, num_block=1, num_grow=32)  # spandrel reads RRDBNet with 32 grow channels only


def compact_state(num_feat: int, num_conv: int, scale: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """SRVGGNetCompact's tensors (conv, PReLU, ... conv to 3 x scale^2 channels), randomly initialised."""
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(seed)
    net = Compact(num_in_ch=3, num_out_ch=3, num_feat=num_feat, num_conv=num_conv, upscale=scale, act_type="prelu")
    return {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}


def rrdb_state(num_feat: int, num_block: int, num_grow: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """RRDBNet x4 tensors under Real-ESRGAN's (basicsr's) names, initialised like basicsr (scaled Kaiming)."""
    generator = torch.Generator().manual_seed(seed)

    def conv(cin: int, cout: int, gain: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
        weight = torch.randn(cout, cin, 3, 3, generator=generator) * (gain * (2.0 / (cin * 9)) ** 0.5)
        return weight, torch.zeros(cout)

    state: dict[str, torch.Tensor] = {}

    def put(name: str, cin: int, cout: int, gain: float = 1.0) -> None:
        state[f"{name}.weight"], state[f"{name}.bias"] = conv(cin, cout, gain)

    nf, gc = num_feat, num_grow
    put("conv_first", 3, nf)
    for b in range(num_block):
        for r in (1, 2, 3):
            for j in range(1, 5):
                put(f"body.{b}.rdb{r}.conv{j}", nf + (j - 1) * gc, gc, 0.1)
            put(f"body.{b}.rdb{r}.conv5", nf + 4 * gc, nf, 0.1)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        put(name, nf, nf)
    put("conv_last", nf, 3)
    return state


def save_weights(state: dict[str, torch.Tensor], path: Path, key: str = "params_ema") -> Path:
    """``.safetensors`` as is; ``.pth`` nested under ``key`` like the Real-ESRGAN release files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save({key: state}, str(path))
    return path


def write_compact(models_dir: Path, model_id: str = CPU_UPSCALER, *, size: str = "tiny", seed: int = 0,
                  filename: str = "realesr-general-x4v3.safetensors") -> Path:
    """``<models_dir>/<model_id>/<filename>``: a random SRVGGNetCompact x4."""
    dims = TINY_COMPACT if size == "tiny" else FULL_COMPACT
    return save_weights(compact_state(**dims, seed=seed), Path(models_dir) / model_id / filename, key="params")


def write_rrdb(models_dir: Path, model_id: str = GPU_UPSCALER, *, size: str = "tiny", seed: int = 0,
               filename: str = "RealESRGAN_x4plus.pth") -> Path:
    """``<models_dir>/<model_id>/<filename>``: a random RRDBNet x4 (``.pth`` under ``params_ema`` by default)."""
    dims = TINY_RRDB if size == "tiny" else FULL_RRDB
    return save_weights(rrdb_state(**dims, seed=seed), Path(models_dir) / model_id / filename)


def offline_store(models_dir: Path, tmp_path: Path) -> ModelStore:
    """A model store over ``models_dir`` that never downloads and ignores the Hugging Face cache."""
    return ModelStore(models_dir, offline=True, download_dir=tmp_path / "downloads", use_hf_cache=False)


def write_both(models_dir: Path) -> Path:
    """``models_dir`` holding both tiny upscalers (the CPU's compact one and the GPU's RRDBNet)."""
    write_compact(models_dir)
    write_rrdb(models_dir)
    return models_dir
