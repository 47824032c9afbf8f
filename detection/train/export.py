"""``shirong export``: .pt → ONNX fp32 and int8 (static QDQ, calibrated on train images), with a
parity check against PyTorch on the test split and the measured int8 speed-up.

The released ``model.onnx`` is the int8 model when it passes parity (mAP50 within ``INT8_TOL`` of
PyTorch), else fp32; ``export.json`` next to it records every number.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detection.data.checks import load_bgr
from detection.data.yolo import image_files
from detection.errors import InputError, ModelError
from detection.extras import require
from detection.train.evaluate import evaluate_model

FP32_TOL = 0.01
INT8_TOL = 0.03
MAX_RELEASE_MB = 20.0


def export_fp32(weights: Path, imgsz: int) -> Path:
    """Ultralytics ONNX export (batch 1, fixed size, simplified; ``names`` in the metadata)."""
    os.environ["YOLO_OFFLINE"] = "1"
    ultralytics = require("ultralytics", "train")
    path = ultralytics.YOLO(str(weights)).export(
        format="onnx", imgsz=imgsz, simplify=True, dynamic=False, batch=1
    )
    fp32 = weights.with_name(f"{weights.stem}-fp32.onnx")
    shutil.move(str(path), fp32)
    return fp32


class _Calibration:
    """Letterboxed train images for static quantization, one at a time."""

    def __init__(self, images: Sequence[Path], imgsz: int, input_name: str) -> None:
        self._iter: Iterator[Path] = iter(images)
        self.imgsz, self.input_name = imgsz, input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        from detection.engine.letterbox import preprocess

        for path in self._iter:
            image = load_bgr(path)
            if image is not None:
                blob, _ = preprocess([image], (self.imgsz, self.imgsz))
                return {self.input_name: blob}
        return None


def quantize_int8(fp32: Path, calib: Sequence[Path], imgsz: int) -> Path:
    """Static QDQ int8 (per-channel weights) of the Conv layers; the decode tail stays float so
    box coordinates and class scores keep full precision. Metadata is carried over."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    int8 = fp32.with_name(fp32.name.replace("-fp32", "-int8"))
    source = onnx.load(str(fp32))
    reader = _Calibration(calib, imgsz, source.graph.input[0].name)
    quantize_static(
        str(fp32),
        str(int8),
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["Conv"],
    )
    model = onnx.load(str(int8))
    del model.metadata_props[:]
    model.metadata_props.extend(source.metadata_props)
    onnx.save(model, str(int8))
    return int8


def time_per_image(model: Path, images: Sequence[Path], repeats: int = 1) -> float:
    """Median ONNX Runtime latency (ms per image, preprocessing and decoding included)."""
    from detection.engine import OnnxDetector

    detector = OnnxDetector(model, conf=0.25)
    frames = [im for im in (load_bgr(p) for p in images) if im is not None]
    detector.predict(frames[:2])  # warm-up
    times = []
    for _ in range(repeats):
        for frame in frames:
            start = time.perf_counter()
            detector.predict([frame])
            times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def export_release(
    weights: Path,
    out: Path,
    data_yaml: Path,
    imgsz: int,
    calib_count: int = 100,
    speed_count: int = 50,
) -> dict[str, Any]:
    """Export, quantize, check parity on the test split, measure speed, release ``model.onnx``."""
    if not weights.is_file():
        raise ModelError(f"weights not found: {weights}")
    train_images = image_files(data_yaml.parent / "images" / "train")
    test_images = image_files(data_yaml.parent / "images" / "test")
    if not train_images or not test_images:
        raise InputError(f"{data_yaml}: needs train images (calibration) and test images (parity)")
    step = max(len(train_images) // calib_count, 1)
    fp32 = export_fp32(weights, imgsz)
    int8 = quantize_int8(fp32, train_images[::step][:calib_count], imgsz)
    maps = {
        kind: evaluate_model(path, data_yaml, "test", imgsz=imgsz).doc["mAP50"]
        for kind, path in (("pytorch", weights), ("onnx_fp32", fp32), ("onnx_int8", int8))
    }
    speed = {
        kind: time_per_image(path, test_images[:speed_count])
        for kind, path in (("fp32", fp32), ("int8", int8))
    }
    fp32_ok = abs(maps["onnx_fp32"] - maps["pytorch"]) <= FP32_TOL
    int8_ok = abs(maps["onnx_int8"] - maps["pytorch"]) <= INT8_TOL
    size_mb = {k: round(p.stat().st_size / 2**20, 2) for k, p in (("fp32", fp32), ("int8", int8))}
    chosen = "int8" if int8_ok and size_mb["int8"] <= MAX_RELEASE_MB else "fp32"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(int8 if chosen == "int8" else fp32, out / "model.onnx")
    doc = {
        "weights": str(weights),
        "imgsz": imgsz,
        "test_mAP50": {k: round(v, 4) for k, v in maps.items()},
        "parity": {
            "fp32_vs_pytorch": round(maps["onnx_fp32"] - maps["pytorch"], 4),
            "fp32_tolerance": FP32_TOL,
            "fp32_ok": fp32_ok,
            "int8_vs_pytorch": round(maps["onnx_int8"] - maps["pytorch"], 4),
            "int8_tolerance": INT8_TOL,
            "int8_ok": int8_ok,
        },
        "latency_ms_per_image": {k: round(v, 2) for k, v in speed.items()},
        "int8_speedup": round(speed["fp32"] / speed["int8"], 3),
        "speed_images": min(speed_count, len(test_images)),
        "size_mb": size_mb,
        "calibration_images": min(calib_count, len(train_images[::step])),
        "released": chosen,
        "cpu_threads": os.cpu_count(),
    }
    (out / "export.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return doc
