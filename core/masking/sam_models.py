"""SAM architectures, a builder registry keyed by variant, and loading through the model store.

The architecture is read off the checkpoint itself (the patch embedding's width: 768 vit_b,
1024 vit_l, 1280 vit_h, 32 the tiny test model), so a renamed or user-supplied checkpoint loads
with the right builder, and the tiny test model goes through exactly the code that loads the real
ones: ``ModelStore.path`` -> ``safe_load.load_state_dict`` -> builder -> ``load_state_dict``.
``sam_for(runtime, ...)`` keeps the loaded model in the runtime (one per checkpoint and device).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from packshot.core.errors import UnsafeWeightsError

if TYPE_CHECKING:
    import torch

    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)

PATCH_KEY = "image_encoder.patch_embed.proj.weight"


@dataclass(frozen=True)
class SamArch:
    """Hyper-parameters of one SAM size (the published ones mirror segment_anything.build_sam)."""

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    prompt_dim: int = 256
    decoder_mlp_dim: int = 2048
    decoder_heads: int = 8
    iou_hidden_dim: int = 256
    mask_in_chans: int = 16
    image_size: int = 1024


SAM_ARCHS: dict[str, SamArch] = {
    "vit_b": SamArch("vit_b", 768, 12, 12, (2, 5, 8, 11)),
    "vit_l": SamArch("vit_l", 1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": SamArch("vit_h", 1280, 32, 16, (7, 15, 23, 31)),
    # Test-only: same classes, embed dim 32, depth 2; ~0.3 s per 1024 px embedding on 2 cores.
    "tiny": SamArch("tiny", 32, 2, 2, (1,), prompt_dim=32, decoder_mlp_dim=64, decoder_heads=2,
                    iou_hidden_dim=32, mask_in_chans=4),
}
ARCH_BY_WIDTH = {arch.embed_dim: name for name, arch in SAM_ARCHS.items()}


def build_sam(arch: SamArch) -> Any:
    """A randomly initialised ``segment_anything.modeling.Sam`` of ``arch`` (eval mode)."""
    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    patch = 16
    grid = arch.image_size // patch
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=arch.depth, embed_dim=arch.embed_dim, img_size=arch.image_size, mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=arch.num_heads, patch_size=patch,
            qkv_bias=True, use_rel_pos=True, global_attn_indexes=arch.global_attn_indexes, window_size=14,
            out_chans=arch.prompt_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=arch.prompt_dim, image_embedding_size=(grid, grid),
            input_image_size=(arch.image_size, arch.image_size), mask_in_chans=arch.mask_in_chans,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=arch.prompt_dim, mlp_dim=arch.decoder_mlp_dim,
                                          num_heads=arch.decoder_heads),
            transformer_dim=arch.prompt_dim, iou_head_depth=3, iou_head_hidden_dim=arch.iou_hidden_dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


# Builder registry keyed by variant, like segment_anything's ``sam_model_registry``.
SAM_BUILDERS: dict[str, Callable[[], Any]] = {name: partial(build_sam, arch) for name, arch in SAM_ARCHS.items()}


def infer_arch(state_dict: dict, source: str = "checkpoint") -> SamArch:
    """The architecture a SAM state dict belongs to, or ``UnsafeWeightsError`` saying why it is not one."""
    weight = state_dict.get(PATCH_KEY)
    if weight is None:
        raise UnsafeWeightsError(f"{source}: not a Segment Anything checkpoint (no '{PATCH_KEY}').")
    width = int(weight.shape[0])
    name = ARCH_BY_WIDTH.get(width)
    if name is None:
        known = ", ".join(f"{w} ({n})" for w, n in ARCH_BY_WIDTH.items())
        raise UnsafeWeightsError(f"{source}: SAM image encoder width {width} is not a known size ({known}).")
    arch = SAM_ARCHS[name]
    depth = 1 + max(int(k.split(".")[2]) for k in state_dict if k.startswith("image_encoder.blocks."))
    if depth != arch.depth:
        raise UnsafeWeightsError(f"{source}: width {width} means {name} with {arch.depth} blocks, "
                                 f"but the checkpoint has {depth}.")
    return arch


def sam_from_state_dict(state_dict: dict, source: str = "checkpoint") -> tuple[Any, SamArch]:
    """Build the matching architecture and load ``state_dict`` into it strictly."""
    import torch

    arch = infer_arch(state_dict, source)
    with torch.device("meta"):  # no random init: every weight comes from the checkpoint
        model = SAM_BUILDERS[arch.name]()
    try:
        model.load_state_dict(state_dict, strict=True, assign=True)
    except RuntimeError as exc:
        raise UnsafeWeightsError(f"{source}: does not match SAM {arch.name} ({str(exc).splitlines()[0]}).") from exc
    # pixel_mean/std are non-persistent buffers (never in checkpoints): recreate them
    model.pixel_mean = torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
    model.pixel_std = torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)
    leftover = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if leftover:
        raise UnsafeWeightsError(f"{source}: SAM weights missing for {', '.join(leftover[:3])}.")
    return model.eval(), arch


@dataclass
class LoadedSam:
    """A SAM model ready for prediction, with where it came from."""

    model: Any  # segment_anything.modeling.Sam
    arch: SamArch
    model_id: str
    path: Optional[Path]
    load_seconds: float = 0.0

    @property
    def name(self) -> str:
        return f"sam-{self.arch.name}"

    @property
    def device(self) -> torch.device:
        return self.model.device


def model_id_for(variant: str) -> str:
    """"vit_b" -> "sam-vit_b"; a full id ("sam-vit_b", a user's "sam-finetuned") is kept."""
    return variant if variant.startswith("sam") else f"sam-{variant}"


def sam_for(runtime: Runtime, variant: str = "vit_b", device: str = "auto") -> LoadedSam:
    """SAM ``variant`` from ``runtime``'s store on ``device``, once per runtime, checkpoint and device
    (ModelMissingError naming the fix when absent)."""
    from packshot.core.devices import pick_device
    from packshot.core.models.integrity import weights_file

    model_id = model_id_for(variant)
    checkpoint = weights_file(runtime.store.spec(model_id), runtime.store.path(model_id))
    torch_device = pick_device(device)
    key = (str(checkpoint.resolve()), str(torch_device))
    return runtime.cached("SAM models", key, lambda: load_sam_checkpoint(checkpoint, model_id, torch_device))


def load_sam_checkpoint(checkpoint: Path, model_id: str, device: Any) -> LoadedSam:
    """Load a SAM checkpoint onto ``device`` (a new copy each call: ``sam_for`` keeps one per runtime)."""
    from packshot.core.models.safe_load import load_state_dict

    start = time.perf_counter()
    state = load_state_dict(checkpoint)
    model, arch = sam_from_state_dict(state, checkpoint.name)
    model.to(device)
    loaded = LoadedSam(model, arch, model_id, checkpoint, time.perf_counter() - start)
    log.info("Loaded %s (%s) from %s in %.1f s", model_id, arch.name, checkpoint, loaded.load_seconds)
    return loaded
