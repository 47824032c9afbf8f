"""``shirong export``: .pt → ONNX fp32 (dynamic shape) and int8 (static QDQ, per-channel, calibrated
on train images), with a parity check against PyTorch on the test split and the int8 speed-up.

The released ``model.onnx`` is the int8 model when it passes parity (mAP50 within ``INT8_TOL`` of
PyTorch), else fp32; ``export.json`` next to it records every number.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detection.data.checks import load_bgr
from detection.errors import InputError, ModelError
from detection.extras import require
from detection.train.evaluate import evaluate_model, split_images

FP32_TOL = 0.01
INT8_TOL = 0.03
MAX_RELEASE_MB = 20.0


def export_fp32(weights: Path, imgsz: int) -> Path:
    """Ultralytics ONNX export (batch 1, dynamic height/width, simplified; ``names`` and ``imgsz``
    in the metadata). Dynamic shape lets ``OnnxDetector`` run the stride-aligned rectangle, as
    Ultralytics' own predict does: less padding, so less compute per frame."""
    os.environ["YOLO_OFFLINE"] = "1"
    ultralytics = require("ultralytics", "train")
    path = ultralytics.YOLO(str(weights)).export(
        format="onnx", imgsz=imgsz, simplify=True, dynamic=True, batch=1
    )
    fp32 = weights.with_name(f"{weights.stem}-fp32.onnx")
    shutil.move(str(path), fp32)
    return fp32


class _Calibration:
    """Calibration feeds at the stride-aligned rectangle the detector runs, prepared up front: the
    quantiser reads them with the working directory changed, where relative paths would break."""

    def __init__(self, images: Iterable[np.ndarray], imgsz: int, input_name: str) -> None:
        from detection.engine.letterbox import preprocess, stride_aligned_hw

        feeds = []
        for image in images:
            hw = stride_aligned_hw([image.shape[:2]], (imgsz, imgsz), 32)
            feeds.append({input_name: preprocess([image], hw)[0]})
        if not feeds:
            raise InputError("int8 calibration needs at least one readable image")
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def _decode_nodes(graph: Any) -> list[str]:
    """Nodes of the Detect head's decoding (DFL, box maths, the final concat of pixel boxes with
    0..1 scores): everything under the head except its conv branches ``cv2``/``cv3``."""
    last = next(n for n in graph.node if graph.output[0].name in n.output)
    head = "/".join(last.name.split("/")[:2]) + "/"  # e.g. "/model.22/"
    return [
        n.name
        for n in graph.node
        if n.name.startswith(head) and "/cv2." not in n.name and "/cv3." not in n.name
    ]


def quantize_int8(
    fp32: Path, calibration: Iterable[np.ndarray], imgsz: int, out: Path | None = None
) -> Path:
    """Static QDQ int8 (per-channel weights, uint8 activations) of an fp32 YOLO export, calibrated
    on BGR ``calibration`` images; written to ``out`` (default: ``<name>-int8.onnx`` beside it).

    The Detect head's decoding stays fp32: one int8 scale cannot serve pixel boxes and 0..1 scores
    at once (quantising it zeroes every score). Some ONNX Runtime versions write scratch files
    (``sym_shape_infer_temp.onnx``, ``<uuid>.data``) into the working directory, so the work runs
    inside a temporary one. Metadata (class names, imgsz, stride) is carried over.
    """
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32 = fp32.resolve()
    int8 = (out or fp32.with_name(fp32.stem.removesuffix("-fp32") + "-int8.onnx")).resolve()
    source = onnx.load(str(fp32))
    reader = _Calibration(calibration, imgsz, source.graph.input[0].name)
    cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="shirong-quant-") as tmp:
        os.chdir(tmp)
        try:
            prepared = Path(tmp) / "prepared.onnx"
            quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
            graph = onnx.load(str(prepared)).graph
            quantize_static(
                str(prepared),
                str(int8),
                reader,
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=_decode_nodes(graph),
            )
        finally:
            os.chdir(cwd)
    model = onnx.load(str(int8))
    del model.metadata_props[:]
    model.metadata_props.extend(source.metadata_props)
    onnx.save(model, str(int8))
    return int8


def _images(paths: Iterable[Path]) -> Iterator[np.ndarray]:
    """The readable images among ``paths``, loaded one at a time."""
    for path in paths:
        image = load_bgr(path)
        if image is not None:
            yield image


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
    _, train_images = split_images(data_yaml, "train")
    _, test_images = split_images(data_yaml, "test")
    if not train_images or not test_images:
        raise InputError(f"{data_yaml}: needs train images (calibration) and test images (parity)")
    step = max(len(train_images) // calib_count, 1)
    fp32 = export_fp32(weights, imgsz)
    int8 = quantize_int8(fp32, _images(train_images[::step][:calib_count]), imgsz)
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
