"""A tiny BiRefNet stand-in for tests: a real ONNX file with the released exports' interface.

Same layout as rembg's ``BiRefNet-general-epoch_244.onnx`` / ``BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx``
as far as Packshot uses them: one float32 input ``input_image`` of shape 1 x 3 x 1024 x 1024 (fixed),
and the final prediction as LOGITS ``output_image``, 1 x 1 x 1024 x 1024, as the FIRST output (the
authors' decoder returns only the finest map in eval mode, their ONNX conversion names it
``output_image``; rembg reads output 0 and applies the sigmoid itself). ``extra_outputs`` appends
decoy maps after it, for a loader that must read output 0 and no other. The graph is a fixed,
deterministic function of the preprocessed pixels, so tests can predict it exactly:

    logit = gain * (r - (g + b) / 2 - level)      r, g, b = pixel / 255

written in terms of what the export expects (pixel / 255 minus the ImageNet mean, divided by the
ImageNet std), so the prior's preprocessing must match, and it must apply the sigmoid, for
``sigmoid(logit)`` to come out right. It proves plumbing (loading, shapes, alignment, choice of
variant), not mask quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # what the released exports expect; not imported from core on purpose
IMAGENET_STD = (0.229, 0.224, 0.225)
GAIN = 20.0
LEVEL = 0.3
SIDE = 1024
FILES = {"birefnet-general": "BiRefNet-general-epoch_244.onnx",
         "birefnet-general-lite": "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx"}


def expected_logit(rgb: tuple[int, int, int] | np.ndarray, gain: float = GAIN, level: float = LEVEL) -> np.ndarray:
    """The tiny model's raw output for a pixel colour (or an H x W x 3 array of them)."""
    c = np.asarray(rgb, np.float64) / 255.0
    return gain * (c[..., 0] - (c[..., 1] + c[..., 2]) / 2.0 - level)


def expected_probability(rgb: tuple[int, int, int] | np.ndarray, gain: float = GAIN, level: float = LEVEL) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-expected_logit(rgb, gain, level)))


def build_tiny_birefnet(gain: float = GAIN, level: float = LEVEL, side: int = SIDE, channels: int = 3,
                        extra_outputs: int = 0):
    """The ModelProto (``channels`` other than 3 builds a deliberately wrong model for refusal tests)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m, s = IMAGENET_MEAN, IMAGENET_STD
    # the net sees x = (c - m) / s, so c = s * x + m and r - (g+b)/2 = s_r x_r - (s_g x_g + s_b x_b)/2 + const
    weights = np.array([gain * s[0], -gain * s[1] / 2, -gain * s[2] / 2][:channels], np.float32)
    bias = np.array([gain * (m[0] - (m[1] + m[2]) / 2 - level)], np.float32)
    nodes = [helper.make_node("Conv", ["input_image", "w", "b"], ["output_image"], name="redness_logits")]
    outputs = [helper.make_tensor_value_info("output_image", TensorProto.FLOAT, [1, 1, side, side])]
    for i in range(extra_outputs):  # decoys: the inverted map, so reading one would mask the background
        nodes.append(helper.make_node("Neg", ["output_image"], [f"decoy_{i}"]))
        outputs.append(helper.make_tensor_value_info(f"decoy_{i}", TensorProto.FLOAT, [1, 1, side, side]))
    graph = helper.make_graph(
        nodes, "tiny-birefnet",
        [helper.make_tensor_value_info("input_image", TensorProto.FLOAT, [1, channels, side, side])],
        outputs,
        initializer=[numpy_helper.from_array(weights.reshape(1, channels, 1, 1), "w"),
                     numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="packshot-tests")
    model.ir_version = 8  # readable by every onnxruntime >= 1.17
    onnx.checker.check_model(model)
    return model


def write_tiny_birefnet(models_dir: Path, lite: bool = True, filename: str | None = None, **kwargs) -> Path:
    """Save the tiny model as ``<models_dir>/birefnet-general[-lite]/<the released file name>``."""
    import onnx

    model_id = "birefnet-general-lite" if lite else "birefnet-general"
    folder = Path(models_dir) / model_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (filename or FILES[model_id])
    onnx.save(build_tiny_birefnet(**kwargs), str(path))
    return path


# -- a full-size stand-in for benchmarks -----------------------------------------------------------
# The real BiRefNet graph (ZhengPeng7/BiRefNet, models/birefnet.py) is not in any installed package.
# This rebuilds its inference path at full size with random weights, for timing only:
# - backbone: torchvision's Swin Transformer v1 with BiRefNet's settings (Swin-L: embed 192, depths
#   2-2-18-2, heads 6-12-24-48, window 12; Swin-T: 96, 2-2-6-2, 3-6-12-24, window 7), LayerNorm on
#   each stage's output, run on the image and on its half-size copy, features concatenated
#   (``mul_scl_ipt = "cat"``); the three finer stages resized and concatenated onto the coarsest
#   (``cxt_num = 3``); one squeeze decoder block;
# - decoder: BiRefNet's four decoder blocks (3x3 conv -> ASPP with 1x1 + 1/3/7 branches and global
#   pooling -> 3x3 conv), 1x1 lateral blocks, gradient-attention convs, the image-patch input
#   blocks at every scale (``dec_ipt_split``) and the 1x1 output conv at 1024 x 1024.
# Stand-in parts: each deformable conv is its offset and modulator convs plus a plain conv of the
# same size (same weights and multiply-adds; the bilinear sampling of deform_conv2d is not
# modelled, so timings are a slight underestimate), BatchNorm is omitted (folded at inference).


def _standin_modules():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class DeformStandIn(nn.Module):
        def __init__(self, cin: int, cout: int, k: int) -> None:
            super().__init__()
            self.offset = nn.Conv2d(cin, 2 * k * k, k, padding=k // 2)
            self.modulator = nn.Conv2d(cin, k * k, k, padding=k // 2)
            self.conv = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)

        def forward(self, x):
            # offsets/modulators are computed (their cost is real) and tied in so no exporter drops them
            gate = torch.sigmoid(self.modulator(x)).mean(1, keepdim=True) + 0 * self.offset(x).mean(1, keepdim=True)
            return torch.relu(self.conv(x) * gate)

    class AsppStandIn(nn.Module):
        def __init__(self, c: int, mid: int = 256) -> None:
            super().__init__()
            self.branches = nn.ModuleList([DeformStandIn(c, mid, 1)] + [DeformStandIn(c, mid, k) for k in (1, 3, 7)])
            self.pool = nn.Conv2d(c, mid, 1, bias=False)
            self.fuse = nn.Conv2d(mid * 5, c, 1, bias=False)

        def forward(self, x):
            pooled = torch.relu(self.pool(F.adaptive_avg_pool2d(x, 1))).expand(-1, -1, *x.shape[2:])
            return torch.relu(self.fuse(torch.cat([b(x) for b in self.branches] + [pooled], 1)))

    class DecBlock(nn.Module):
        def __init__(self, cin: int, cout: int, mid: int = 64) -> None:
            super().__init__()
            self.conv_in = nn.Conv2d(cin, mid, 3, padding=1)
            self.att = AsppStandIn(mid)
            self.conv_out = nn.Conv2d(mid, cout, 3, padding=1)

        def forward(self, x):
            return self.conv_out(self.att(torch.relu(self.conv_in(x))))

    class PatchInput(nn.Module):  # SimpleConvs over the image cut into patches stacked as channels
        def __init__(self, grid: int, cout: int) -> None:
            super().__init__()
            self.grid = grid
            self.conv1 = nn.Conv2d(3 * grid * grid, 64, 3, padding=1)
            self.conv_out = nn.Conv2d(64, cout, 3, padding=1)

        def forward(self, image, size):
            b, c, h, w = image.shape
            g = self.grid
            x = image.reshape(b, c, g, h // g, g, w // g).permute(0, 1, 2, 4, 3, 5).reshape(b, c * g * g, h // g, w // g)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
            return self.conv_out(self.conv1(x))

    class Backbone(nn.Module):
        def __init__(self, lite: bool) -> None:
            super().__init__()
            from torchvision.models.swin_transformer import SwinTransformer

            embed, depths, heads, window = (96, [2, 2, 6, 2], [3, 6, 12, 24], 7) if lite else \
                (192, [2, 2, 18, 2], [6, 12, 24, 48], 12)
            swin = SwinTransformer(patch_size=[4, 4], embed_dim=embed, depths=depths, num_heads=heads,
                                   window_size=[window, window], stochastic_depth_prob=0.0)
            self.features = swin.features  # [embed, stage1, merge, stage2, merge, stage3, merge, stage4]
            self.norms = nn.ModuleList(nn.LayerNorm(embed * 2 ** i) for i in range(4))

        def forward(self, x):
            outs = []
            for i, layer in enumerate(self.features):
                x = layer(x)
                if i % 2 == 1:
                    outs.append(self.norms[i // 2](x).permute(0, 3, 1, 2))
            return outs

    class BiRefNetStandIn(nn.Module):
        def __init__(self, lite: bool) -> None:
            super().__init__()
            self.bb = Backbone(lite)
            embed = 96 if lite else 192
            ch = [2 * embed * 2 ** i for i in (3, 2, 1, 0)]  # coarse -> fine, doubled by mul_scl_ipt="cat"
            self.squeeze = DecBlock(ch[0] + sum(ch[1:]), ch[0])
            self.ipt = nn.ModuleList([PatchInput(32, ch[0] // 8), PatchInput(16, ch[0] // 8),
                                      PatchInput(8, ch[1] // 8), PatchInput(4, ch[2] // 8), PatchInput(1, ch[3] // 8)])
            self.dec = nn.ModuleList([DecBlock(ch[0] + ch[0] // 8, ch[1]), DecBlock(ch[1] + ch[0] // 8, ch[2]),
                                      DecBlock(ch[2] + ch[1] // 8, ch[3]), DecBlock(ch[3] + ch[2] // 8, ch[3] // 2)])
            self.lateral = nn.ModuleList([nn.Conv2d(c, c, 1) for c in ch[1:]])
            self.gdt = nn.ModuleList([nn.Conv2d(c, 16, 3, padding=1) for c in ch[1:]])
            self.gdt_attn = nn.ModuleList([nn.Conv2d(16, 1, 1) for _ in ch[1:]])
            self.conv_out = nn.Conv2d(ch[3] // 2 + ch[3] // 8, 1, 1)

        def forward(self, image):
            full = self.bb(image)
            half = self.bb(F.interpolate(image, scale_factor=0.5, mode="bilinear", align_corners=True))
            x1, x2, x3, x4 = [torch.cat([f, F.interpolate(h, size=f.shape[2:], mode="bilinear", align_corners=True)], 1)
                              for f, h in zip(full, half)]
            size4 = x4.shape[2:]
            x4 = torch.cat([F.interpolate(x, size=size4, mode="bilinear", align_corners=True) for x in (x1, x2, x3)]
                           + [x4], 1)
            p = self.squeeze(x4)
            skips = [x3, x2, x1]
            for level in range(4):
                size = p.shape[2:]
                p = self.dec[level](torch.cat([p, self.ipt[level](image, size)], 1))
                if level < 3:
                    p = p * torch.sigmoid(self.gdt_attn[level](torch.relu(self.gdt[level](p))))
                    skip = skips[level]
                    p = F.interpolate(p, size=skip.shape[2:], mode="bilinear", align_corners=True) + self.lateral[level](skip)
            p = F.interpolate(p, size=image.shape[2:], mode="bilinear", align_corners=True)
            return self.conv_out(torch.cat([p, self.ipt[4](image, image.shape[2:])], 1))

    return BiRefNetStandIn


def build_full_size_birefnet(lite: bool):
    """The torch stand-in (random weights, eval mode); see the comment above for what is real."""
    import torch

    torch.manual_seed(0)
    return _standin_modules()(lite).eval()


def write_full_size_birefnet(models_dir: Path, lite: bool) -> Path:
    """Export the stand-in to ONNX in the released layout (``input_image`` 1x3x1024x1024 -> logits
    ``output_image``) as ``<models_dir>/birefnet-general[-lite]/<released file name>``."""
    import torch

    model_id = "birefnet-general-lite" if lite else "birefnet-general"
    folder = Path(models_dir) / model_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILES[model_id]
    with torch.no_grad():
        torch.onnx.export(build_full_size_birefnet(lite), (torch.zeros(1, 3, SIDE, SIDE),), str(path), dynamo=False,
                          opset_version=17, input_names=["input_image"], output_names=["output_image"])
    return path
