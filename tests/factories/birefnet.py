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
