"""int8 quantisation of a dynamic-shape YOLO export: what it keeps, where its scratch files go."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.engine import OnnxDetector
from detection.engine.compare import compare_runs
from detection.errors import InputError
from detection.train.export import export_fp32, quantize_int8

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    """The shared COCO weights exported the way ``shirong export`` does (dynamic shape, 320)."""
    folder = tmp_path_factory.mktemp("export")
    weights = Path(shutil.copy(shared / "weights" / "yolov8n-coco.pt", folder / "coco.pt"))
    return export_fp32(weights, imgsz=320)


@pytest.fixture(scope="module")
def frames(bus_jpg: Path) -> list[np.ndarray]:
    image = cv2.imread(str(bus_jpg))
    return [image, cv2.flip(image, 1), image[100:700]]


def test_fp32_export_runs_stride_aligned_rectangles(fp32: Path) -> None:
    detector = OnnxDetector(fp32)
    assert not detector.is_fixed_shape
    assert detector.imgsz == (320, 320)


def test_int8_keeps_names_and_boxes_and_leaves_cwd_clean(
    fp32: Path, frames: list[np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    int8 = quantize_int8(fp32, frames, imgsz=320, out=tmp_path / "model-int8.onnx")
    assert list(cwd.iterdir()) == []  # no sym_shape_infer_temp.onnx, no <uuid>.data
    assert Path.cwd() == cwd
    assert int8 == (tmp_path / "model-int8.onnx").resolve()
    quantized, reference = OnnxDetector(int8), OnnxDetector(fp32)
    assert quantized.names == reference.names and not quantized.is_fixed_shape
    agreement = compare_runs(
        quantized.predict(frames), reference.predict(frames), min_conf=0.5, min_iou=0.8
    )
    assert agreement.confident >= 6  # the bus and its people, in every frame
    assert agreement.all_matched, agreement


def test_int8_default_name_sits_beside_the_fp32(fp32: Path, frames: list[np.ndarray]) -> None:
    int8 = quantize_int8(fp32, frames[:1], imgsz=320)
    assert int8.name == fp32.name.replace("-fp32", "-int8") and int8.is_file()


def test_int8_needs_calibration_images(fp32: Path) -> None:
    with pytest.raises(InputError, match="at least one readable image"):
        quantize_int8(fp32, [], imgsz=320)
