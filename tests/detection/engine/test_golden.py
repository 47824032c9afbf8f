"""Golden output of the ONNX path on bus.jpg with the shared int8 COCO model.

Guards the whole OnnxDetector path (letterbox, decoding, NMS, mapping back) against silent drift.
Boxes are compared by IoU and confidences with a tolerance, because int8 kernels differ slightly
between CPUs. After an intended change, regenerate with ``SHIRONG_UPDATE_GOLDEN=1 pytest <this
file>`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.core import Detections, box_iou
from detection.engine import OnnxDetector

GOLDEN = Path(__file__).parent / "golden" / "bus_yolov8n_coco_int8.json"
SETTINGS = {"model": "weights/yolov8n-coco-int8.onnx", "conf": 0.25, "iou": 0.45}


def render(found: Detections) -> str:
    """Settings, then one detection per line: small, reviewable diffs."""
    rows = ",\n".join(f"  {json.dumps(r)}" for r in found.to_records())
    return json.dumps(SETTINGS)[:-1] + ', "detections": [\n' + rows + "\n]}\n"


@pytest.mark.shared_data
def test_bus_matches_golden(bus_jpg: Path, shared: Path) -> None:
    detector = OnnxDetector(shared / SETTINGS["model"], conf=0.25, iou=0.45)
    found = detector(cv2.imread(str(bus_jpg)))
    if os.environ.get("SHIRONG_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(render(found))
    golden = json.loads(GOLDEN.read_text())
    assert {k: golden[k] for k in SETTINGS} == SETTINGS
    expected = golden["detections"]
    assert len(found) == len(expected), found.to_records()
    want = Detections.from_arrays(
        [r["xyxy"] for r in expected],
        [r["confidence"] for r in expected],
        [found.names.index(r["class_name"]) for r in expected],
        found.names,
    )
    iou = box_iou(want.xyxy, found.xyxy)
    iou[np.asarray(want.class_id)[:, None] != found.class_id[None, :]] = 0.0  # same class only
    best = iou.argmax(axis=1)
    assert sorted(best.tolist()) == list(range(len(found)))  # one-to-one
    assert iou.max(axis=1).min() >= 0.99
    np.testing.assert_allclose(found.confidence[best], want.confidence, atol=0.01)
