"""The ONNX path reproduces Ultralytics/torch boxes on real images (bus.jpg, vtest.avi frames).

Strict parity (every confident box matched at IoU >= 0.98, same class) is checked for an fp32 ONNX
export of the torch weights. The shared int8 model is dynamically quantised, so it only comes
close: on these frames ~91% of confident boxes reach IoU 0.98 and all reach 0.9; its test guards
that level so a decoding bug (which breaks far more) cannot hide behind quantisation noise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.core import Detections
from detection.engine import Detector, OnnxDetector, UltralyticsDetector
from detection.engine.compare import compare_runs

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

FRAMES = (0, 100, 200, 300, 400)
INT8 = Path("weights/yolov8n-coco-int8.onnx")
PT = Path("weights/yolov8n-coco.pt")
CONF, IOU = 0.25, 0.45


def read_frames(path: Path, indices: tuple[int, ...]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    for index in range(max(indices) + 1):
        ok, frame = capture.read()
        assert ok, f"{path} ended before frame {index}"
        if index in indices:
            frames.append(frame)
    capture.release()
    return frames


@pytest.fixture(scope="module")
def images(bus_jpg: Path, shared: Path) -> list[np.ndarray]:
    return [cv2.imread(str(bus_jpg)), *read_frames(shared / "videos" / "vtest.avi", FRAMES)]


@pytest.fixture(scope="module")
def torch_detector(shared: Path) -> UltralyticsDetector:
    return UltralyticsDetector(shared / PT, conf=CONF, iou=IOU, imgsz=640)


@pytest.fixture(scope="module")
def torch_results(
    images: list[np.ndarray], torch_detector: UltralyticsDetector
) -> list[Detections]:
    return torch_detector.predict(images)


def test_torch_backend_is_a_detector(torch_detector: UltralyticsDetector, bus_jpg: Path) -> None:
    assert isinstance(torch_detector, Detector)
    assert torch_detector.names[0] == "person" and len(torch_detector.names) == 80
    assert torch_detector.predict([]) == []
    assert "bus" in torch_detector(cv2.imread(str(bus_jpg))).class_name


def test_fp32_export_matches_torch_strictly(
    tmp_path: Path, shared: Path, images: list[np.ndarray], torch_results: list[Detections]
) -> None:
    ultralytics = pytest.importorskip("ultralytics")
    weights = shutil.copy(shared / PT, tmp_path / PT.name)  # export writes beside the weights
    exported = ultralytics.YOLO(weights).export(format="onnx", imgsz=640, verbose=False)
    onnx_results = OnnxDetector(exported, conf=CONF, iou=IOU).predict(images)
    agreement = compare_runs(onnx_results, torch_results, min_conf=0.5, min_iou=0.98)
    assert agreement.confident > 50  # the frames are busy enough to mean something
    assert agreement.all_matched, agreement
    assert agreement.worst_iou > 0.999


def test_int8_stand_in_close_to_torch(
    shared: Path, images: list[np.ndarray], torch_results: list[Detections]
) -> None:
    onnx_results = OnnxDetector(shared / INT8, conf=CONF, iou=IOU).predict(images)
    loose = compare_runs(onnx_results, torch_results, min_conf=0.5, min_iou=0.85)
    strict = compare_runs(onnx_results, torch_results, min_conf=0.5, min_iou=0.98)
    assert loose.all_matched, loose
    assert strict.matched >= 0.8 * strict.confident, strict
