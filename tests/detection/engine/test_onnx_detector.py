"""OnnxDetector on tiny hand-built models (see conftest): decoding, batching, errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto

from detection.engine import Detector, OnnxDetector
from detection.errors import ConfigError, InputError, ModelError

# Expected decode of conftest.ANCHORS for a white 64×64 image: NMS, conf and clipping applied.
EXPECTED_XYXY = [[15, 15, 25, 25], [16, 15, 26, 25], [50, 50, 64, 64]]
EXPECTED_CONF = [0.9, 0.7, 0.6]
EXPECTED_NAMES = ["a", "b", "c"]
PAD_MEAN = (255 + 114) / 510  # mean of an image whose letterboxed input is half padding


def white(h: int, w: int) -> np.ndarray:
    return np.full((h, w, 3), 255, np.uint8)


def black(h: int, w: int) -> np.ndarray:
    return np.zeros((h, w, 3), np.uint8)


def test_decodes_boxes_classes_and_scores(make_model) -> None:
    detector = OnnxDetector(make_model())
    assert detector.is_fixed_shape
    det = detector(white(64, 64))
    np.testing.assert_allclose(det.xyxy, EXPECTED_XYXY, atol=1e-4)
    np.testing.assert_allclose(det.confidence, EXPECTED_CONF, atol=1e-6)
    assert det.class_name == EXPECTED_NAMES
    assert det.names == ("a", "b", "c")


def test_boxes_map_back_to_original_pixels_and_clip(make_model) -> None:
    det = OnnxDetector(make_model())(white(128, 128))  # scaled by 0.5 into the 64×64 input
    np.testing.assert_allclose(det.xyxy, [[30, 30, 50, 50], [32, 30, 52, 50], [100, 100, 128, 128]])


@pytest.mark.parametrize(
    ("conf", "iou", "max_det", "names"),
    [
        (0.25, 0.45, 300, ["a", "b", "c"]),
        (0.65, 0.45, 300, ["a", "b"]),  # conf drops class c (0.6)
        (0.25, 0.9, 300, ["a", "a", "b", "c"]),  # IoU 0.82 < 0.9: the second 'a' survives
        (0.25, 0.45, 2, ["a", "b"]),  # best two only
    ],
)
def test_thresholds(make_model, conf: float, iou: float, max_det: int, names: list[str]) -> None:
    detector = OnnxDetector(make_model(), conf=conf, iou=iou, max_det=max_det)
    assert detector(white(64, 64)).class_name == names


@pytest.mark.parametrize(
    "input_shape",
    [(1, 3, 64, 64), (2, 3, 64, 64), ("batch", 3, 64, 64)],
    ids=["fixed-batch-1", "fixed-batch-2", "dynamic-batch"],
)
def test_batches_keep_image_order(make_model, input_shape: tuple[int | str, ...]) -> None:
    detector = OnnxDetector(make_model(input_shape=input_shape))
    results = detector.predict([white(64, 64), black(64, 64), white(128, 128)])
    assert [len(r) for r in results] == [3, 0, 3]
    np.testing.assert_allclose(results[2].xyxy, np.asarray(EXPECTED_XYXY) * 2)
    assert detector.predict([]) == []


def test_dynamic_shape_runs_stride_aligned_rectangles(make_model) -> None:
    path = make_model(input_shape=("batch", 3, "height", "width"), metadata={"imgsz": "[64, 64]"})
    detector = OnnxDetector(path)
    assert detector.imgsz == (64, 64) and not detector.is_fixed_shape
    # 16×64 fits a 32×64 input (stride 32), half padding; a square 64×64 input would be 3/4.
    det = detector(white(16, 64))
    np.testing.assert_allclose(det.confidence[0], 0.9 * PAD_MEAN, rtol=1e-5)
    np.testing.assert_allclose(det.xyxy[0], [15, 7, 25, 16])  # y shifted by the 8-pixel pad


@pytest.mark.parametrize(
    ("imgsz", "metadata", "expected"),
    [(None, {}, (640, 640)), (None, {"imgsz": "[96, 128]"}, (96, 128)), (128, {}, (128, 128))],
)
def test_dynamic_imgsz_from_option_metadata_or_default(
    make_model, imgsz: int | None, metadata: dict[str, str], expected: tuple[int, int]
) -> None:
    path = make_model(input_shape=("batch", 3, "height", "width"), metadata=metadata)
    assert OnnxDetector(path, imgsz=imgsz).imgsz == expected


def test_float16_input_model(make_model) -> None:
    detector = OnnxDetector(make_model(input_type=TensorProto.FLOAT16))
    np.testing.assert_allclose(detector(white(64, 64)).xyxy, EXPECTED_XYXY, atol=1e-4)


def test_names_metadata_may_be_a_plain_list(make_model) -> None:
    assert OnnxDetector(make_model(metadata={"names": "['x', 'y', 'z']"})).names == ("x", "y", "z")


def test_caller_names_fill_in_for_missing_metadata(make_model) -> None:
    detector = OnnxDetector(make_model(metadata={"names": None}), names=["x", "y", "z"])
    assert detector(white(64, 64)).class_name == ["x", "y", "z"]


def test_is_a_detector(make_model) -> None:
    assert isinstance(OnnxDetector(make_model()), Detector)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metadata": {"names": None}}, r"tiny\.onnx has no 'names' metadata.*its 3 classes"),
        ({"metadata": {"names": "{0: 'a', 1: 'b'}"}}, r"predicts 3 classes .* 2 class names"),
        ({"metadata": {"names": "{0: person}"}}, r"'names' metadata is not a Python literal"),
        ({"metadata": {"names": "__import__('os').getcwd()"}}, r"not a Python literal"),
        ({"metadata": {"names": "{1: 'a', 2: 'b', 3: 'c'}"}}, r"must map 0\.\.n-1 to class"),
        ({"metadata": {"names": "{0: 'a', 'x': 'b', 2: 'c'}"}}, r"must map 0\.\.n-1 to class"),
        ({"metadata": {"task": "segment"}}, r"tiny\.onnx is an Ultralytics 'segment' export"),
        ({"metadata": {"end2end": "True"}}, r"NMS built in .* nms=False"),
        ({"extra_outputs": [("output1", [1, 4, 6])]}, r"has outputs of shape \[\[1, 7, 6\], \[1"),
        ({"input_shape": (1, 1, 64, 64)}, r"input shape \[1, 1, 64, 64\]; expected \(batch, 3"),
        ({"input_type": TensorProto.UINT8}, r"takes tensor\(uint8\) input"),
    ],
)
def test_model_errors_name_the_file(make_model, kwargs: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        OnnxDetector(make_model(**kwargs))


def test_classification_export_is_rejected(make_classifier) -> None:
    with pytest.raises(ModelError, match=r"classify\.onnx has outputs of shape \[\[1, 3\]\]"):
        OnnxDetector(make_classifier())


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"ONNX model not found: .*nope\.onnx"):
        OnnxDetector(tmp_path / "nope.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07not a protobuf at all")
    with pytest.raises(ModelError, match=r"cannot load ONNX model .*corrupt\.onnx"):
        OnnxDetector(corrupt)


def test_at_most_max_nms_candidates_enter_nms(make_model, monkeypatch) -> None:
    monkeypatch.setattr("detection.engine.onnx.MAX_NMS", 2)  # the two best are both class a
    assert OnnxDetector(make_model())(white(64, 64)).class_name == ["a"]


def test_caller_names_must_match_class_count(make_model) -> None:
    with pytest.raises(ModelError, match=r"predicts 3 classes .* 1 class names"):
        OnnxDetector(make_model(), names=["x"])


def test_fixed_input_rejects_other_imgsz(make_model) -> None:
    with pytest.raises(ModelError, match=re.escape("fixed 64x64 input, not imgsz=128x128")):
        OnnxDetector(make_model(), imgsz=128)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conf": 1.5}, r"conf: Input should be less than or equal to 1"),
        ({"iou": -0.1}, r"iou: Input should be greater than or equal to 0"),
        ({"max_det": 0}, r"max_det"),
        ({"imgsz": 16}, r"imgsz"),
        ({"threads": 0}, r"threads must be >= 1"),
        ({"providers": ["NoSuchProvider"]}, r"providers not available here: \['NoSuchProvider'\]"),
    ],
)
def test_bad_options(make_model, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OnnxDetector(make_model(), **kwargs)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ([np.zeros((64, 64), np.uint8)], r"image 0: .* got shape \(64, 64\) uint8"),
        ([white(8, 8), np.zeros((8, 8, 3), np.float32)], r"image 1: .* float32"),
        ([white(8, 8), white(8, 8), "photo.jpg"], r"image 2: .* got str"),
        ([np.zeros((0, 8, 3), np.uint8)], r"image 0: .* \(0, 8, 3\)"),
    ],
)
def test_bad_images(make_model, images: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        OnnxDetector(make_model()).predict(images)
