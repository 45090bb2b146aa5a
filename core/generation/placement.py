"""Putting the components on the compute device: all at once, or one at a time on small GPUs."""

from __future__ import annotations

from typing import Any

# SD2 inpainting + ControlNet in fp16 needs ~4.5 GB of weights plus activations: at or below this
# much GPU memory the components take turns on the GPU (diffusers' model CPU offload).
OFFLOAD_AT_OR_BELOW_GB = 6.0


def wants_offload(device: Any, total_memory_gb: float) -> bool:
    return getattr(device, "type", str(device)) == "cuda" and 0 < total_memory_gb <= OFFLOAD_AT_OR_BELOW_GB


def place(components: Any, device: Any, dtype: Any, offload: bool | None = None) -> list:
    """Move ``components`` to ``device``/``dtype``; returns the CPU offload hooks (empty: none used).

    With offload, each module stays on the CPU and accelerate's hook moves it to the GPU when its
    forward runs, sending the previous module back (text encoder -> controlnet -> unet -> vae),
    which is what ``enable_model_cpu_offload`` does in diffusers.
    """
    from packshot.core.generation.components import quiet_library_logs

    with quiet_library_logs():  # .to(dtype) makes diffusers warn "kept in float32: []" per module
        return _place(components, device, dtype, offload)


def _place(components: Any, device: Any, dtype: Any, offload: bool | None) -> list:
    if offload is None:
        from packshot.core.devices import cuda_memory_gb

        offload = wants_offload(device, cuda_memory_gb(device))
    modules = components.modules()
    if not offload:
        for module in modules:
            module.to(device=device, dtype=dtype)
        _use_sdpa(components)
        _slice_attention_if_short(components, device)
        return []
    from accelerate import cpu_offload_with_hook

    hooks: list = []
    for module in modules:
        module.to(device="cpu", dtype=dtype)
        _, hook = cpu_offload_with_hook(module, device, prev_module_hook=hooks[-1] if hooks else None)
        hooks.append(hook)
    _use_sdpa(components)
    return hooks


def remove_hooks(hooks: list) -> None:
    for hook in hooks:
        hook.offload()
        hook.remove()


def _use_sdpa(components: Any) -> None:
    # diffusers already defaults to torch's scaled_dot_product_attention (AttnProcessor2_0); set it
    # explicitly so a folder saved with another processor still runs the fast kernel.
    from diffusers.models.attention_processor import AttnProcessor2_0

    for module in (components.unet, components.controlnet):
        if module is not None and hasattr(module, "set_attn_processor"):
            module.set_attn_processor(AttnProcessor2_0())


def _slice_attention_if_short(components: Any, device: Any) -> None:
    # Apple GPUs share memory with the system: slice attention there when memory is short
    # (diffusers' advice for MPS). Slicing changes the order of float sums, never the maths.
    from packshot.core.devices import plan_for

    if getattr(device, "type", "") != "mps" or not plan_for(device).attention_slicing:
        return
    for module in (components.unet, components.controlnet):
        if module is not None and hasattr(module, "set_attention_slice"):
            module.set_attention_slice("auto")
