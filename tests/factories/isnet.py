"""A tiny IS-Net stand-in for tests: a real ONNX file with the published model's interface.

Same layout as the published ``isnet-general-use.onnx`` as far as Packshot uses it: one float32
input of shape 1 x 3 x 1024 x 1024 (fixed), the main object map (sigmoid, 1 x 1 x 1024 x 1024) as
the FIRST output, followed by a side output of the same shape. The graph is a fixed, deterministic
function of the preprocessed pixels, so tests can predict it exactly: a weighted channel
difference ("redness") through a sigmoid,

    p = sigmoid(gain * (r - (g + b) / 2 - level))      r, g, b = pixel / 255

written in terms of the inputs the published export expects (pixel / 255 minus rembg's mean
(0.485, 0.456, 0.406), std 1.0), so the prior's preprocessing must match for ``p`` to come out
right. The side output is the inverted, blurred map: a loader that read the wrong output would
mask the background. It proves plumbing (loading, shapes, alignment, prompts), not mask quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PUBLISHED_MEAN = (0.485, 0.456, 0.406)  # what the published export expects (rembg), not imported from core
GAIN = 20.0
LEVEL = 0.3
SIDE = 1024


def expected_probability(rgb: tuple[int, int, int] | np.ndarray, gain: float = GAIN, level: float = LEVEL) -> np.ndarray:
    """The tiny model's main output for a pixel colour (or an H x W x 3 array of them)."""
    c = np.asarray(rgb, np.float64) / 255.0
    redness = c[..., 0] - (c[..., 1] + c[..., 2]) / 2.0
    return 1.0 / (1.0 + np.exp(-gain * (redness - level)))


def build_tiny_isnet(gain: float = GAIN, level: float = LEVEL, side: int = SIDE, channels: int = 3):
    """The ModelProto (``channels`` other than 3 builds a deliberately wrong model for refusal tests)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.array([gain, -gain / 2, -gain / 2][:channels], np.float32).reshape(1, channels, 1, 1)
    # the net sees x = c - mean, so r - (g+b)/2 = x_r - (x_g+x_b)/2 + (m_r - (m_g+m_b)/2)
    m = PUBLISHED_MEAN
    bias = np.array([gain * (m[0] - (m[1] + m[2]) / 2 - level)], np.float32)
    box = np.full((1, 1, 5, 5), 1 / 25, np.float32)
    nodes = [
        helper.make_node("Conv", ["input_image", "w", "b"], ["logits"], name="redness"),
        helper.make_node("Sigmoid", ["logits"], ["d1"], name="main_sigmoid"),
        helper.make_node("Conv", ["logits", "box"], ["blurred"], pads=[2, 2, 2, 2], name="side_blur"),
        helper.make_node("Neg", ["blurred"], ["inverted"]),
        helper.make_node("Sigmoid", ["inverted"], ["d2"], name="side_sigmoid"),
    ]
    graph = helper.make_graph(
        nodes, "tiny-isnet",
        [helper.make_tensor_value_info("input_image", TensorProto.FLOAT, [1, channels, side, side])],
        [helper.make_tensor_value_info("d1", TensorProto.FLOAT, [1, 1, side, side]),
         helper.make_tensor_value_info("d2", TensorProto.FLOAT, [1, 1, side, side])],
        initializer=[numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b"),
                     numpy_helper.from_array(box, "box")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="packshot-tests")
    model.ir_version = 8  # readable by every onnxruntime >= 1.17
    onnx.checker.check_model(model)
    return model


def write_tiny_isnet(models_dir: Path, model_id: str = "isnet-general-use",
                     filename: str = "isnet-general-use.onnx", **kwargs) -> Path:
    """Save the tiny model as ``<models_dir>/<model_id>/<filename>``; returns the file's path."""
    import onnx

    folder = Path(models_dir) / model_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    onnx.save(build_tiny_isnet(**kwargs), str(path))
    return path
