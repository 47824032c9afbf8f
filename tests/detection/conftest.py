"""Tiny ONNX models built with ``onnx.helper`` for the engine and teacher tests: a detect-export
look-alike with known raw output.

The graph returns fixed (4 + nc, anchors) predictions, with class scores multiplied by the mean
of the input image (0..1): a white image gets the scores as written, a black one gets zeros. That
lets tests check decoding, batching order and letterbox maths without ../shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

NAMES = ("a", "b", "c")

# cx, cy, w, h, score_a, score_b, score_c per anchor, in 64×64 input pixels.
ANCHORS = np.array(
    [
        [20, 20, 10, 10, 0.9, 0.0, 0.0],  # kept: best box of class a
        [21, 20, 10, 10, 0.8, 0.0, 0.0],  # suppressed: IoU 0.82 with the one above, same class
        [21, 20, 10, 10, 0.0, 0.7, 0.0],  # kept: same place, other class
        [40, 10, 8, 8, 0.0, 0.0, 0.1],  # dropped: below conf 0.25
        [60, 60, 20, 20, 0.0, 0.0, 0.6],  # kept, clipped to the image corner
        [10, 50, 6, 6, 0.25, 0.0, 0.0],  # dropped: score must exceed conf, not equal it
    ],
    np.float32,
)

MakeModel = Callable[..., Path]


def _save(model: Any, path: Path, metadata: dict[str, str | None]) -> Path:
    model.ir_version = 8
    for key, value in metadata.items():
        if value is not None:
            model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def make_model(tmp_path: Path) -> MakeModel:
    """Factory: write a tiny detect-like ONNX model and return its path."""

    def make(
        input_shape: Sequence[int | str] = (1, 3, 64, 64),
        anchors: np.ndarray = ANCHORS,
        metadata: dict[str, str | None] | None = None,
        extra_outputs: Sequence[tuple[str, list[Any]]] = (),
        name: str = "tiny.onnx",
        input_type: int = TensorProto.FLOAT,
    ) -> Path:
        pred = anchors.T[None]  # (1, 4 + nc, anchors)
        const = [
            numpy_helper.from_array(pred[:, :4].copy(), "boxes"),
            numpy_helper.from_array(pred[:, 4:].copy(), "scores"),
            numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
            numpy_helper.from_array(np.array([0, 1, 1], np.int64), "to_b11"),
        ]
        nodes = [
            helper.make_node("Cast", ["images"], ["pixels"], to=TensorProto.FLOAT),
            helper.make_node("ReduceMean", ["pixels"], ["mean4d"], axes=[1, 2, 3], keepdims=1),
            helper.make_node("Reshape", ["mean4d", "to_b11"], ["mean"]),  # (batch, 1, 1)
            helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
            helper.make_node("Add", ["boxes", "nothing"], ["batched_boxes"]),
            helper.make_node("Mul", ["scores", "mean"], ["batched_scores"]),
            helper.make_node("Concat", ["batched_boxes", "batched_scores"], ["output0"], axis=1),
        ]
        nodes += [helper.make_node("Identity", ["boxes"], [n]) for n, _ in extra_outputs]
        declared = [input_shape[0], pred.shape[1], pred.shape[2]]
        outputs = [helper.make_tensor_value_info("output0", TensorProto.FLOAT, declared)]
        outputs += [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in extra_outputs
        ]
        graph = helper.make_graph(
            nodes,
            "tiny_detect",
            [helper.make_tensor_value_info("images", input_type, list(input_shape))],
            outputs,
            initializer=const,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        meta: dict[str, str | None] = {
            "names": str(dict(enumerate(NAMES))),
            "stride": "32",
            "task": "detect",
        }
        return _save(model, tmp_path / name, meta | (metadata or {}))

    return make


@pytest.fixture
def make_classifier(tmp_path: Path) -> Callable[[], Path]:
    """Factory: a classification-like model whose one output is (1, 3): not a detect export."""

    def make() -> Path:
        node = helper.make_node("ReduceMean", ["images"], ["output0"], axes=[2, 3], keepdims=0)
        graph = helper.make_graph(
            [node],
            "tiny_classify",
            [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
            [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3])],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        return _save(model, tmp_path / "classify.onnx", {"names": str(dict(enumerate(NAMES)))})

    return make
