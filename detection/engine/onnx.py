"""ONNX Runtime detector for Ultralytics YOLOv8/YOLO11 detect exports: Shirong's default engine.

The export's single output is (batch, 4 + nc, anchors): cx, cy, w, h in input pixels followed by
one score per class (no objectness). Decoding mirrors Ultralytics' predictor (best class per
anchor, score > conf, class-aware NMS in input space, then undo the letterbox), so the ONNX path
gives Ultralytics' boxes without torch.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from detection.core import Detections
from detection.engine.letterbox import Letterbox, preprocess, stride_aligned_hw
from detection.engine.nms import batched_nms
from detection.engine.options import DetectorOptions, parse_options
from detection.errors import ConfigError, InputError, ModelError

#: One batch's input: the N×3×H×W blob and each image's letterbox.
Prepared = tuple[npt.NDArray[np.float32], list[Letterbox]]

MAX_NMS = 30000  # candidates entering NMS, best first (Ultralytics' max_nms)
DEFAULT_IMGSZ = 640
DEFAULT_STRIDE = 32
INPUT_DTYPES: dict[str, type[np.floating[Any]]] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
}


class OnnxDetector:
    """Run an Ultralytics detect export with ONNX Runtime.

    Dynamic-batch exports run a whole ``predict`` call as one batch; fixed-batch exports run in
    chunks of their batch size. Dynamic-shape exports use stride-aligned rectangular inputs.
    ``names`` overrides the class names stored in the model (and is required when it has none).
    """

    def __init__(
        self,
        path: str | Path,
        conf: float = 0.25,
        iou: float = 0.45,
        imgsz: int | tuple[int, int] | None = None,
        threads: int | None = None,
        max_det: int = 300,
        providers: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.options: DetectorOptions = parse_options(
            conf=conf, iou=iou, imgsz=imgsz, max_det=max_det
        )
        self._session = _open_session(self.path, threads, providers)
        meta = self._session.get_modelmeta().custom_metadata_map
        _check_task(self.path, meta)
        channels = _output_channels(self.path, self._session)
        self.names: tuple[str, ...] = _resolve_names(self.path, meta, names, channels)
        model_input = self._session.get_inputs()[0]
        self._input_name: str = model_input.name
        self._input_dtype = _input_dtype(self.path, model_input.type)
        self._batch, self._fixed_hw = _input_layout(self.path, model_input.shape)
        self.imgsz: tuple[int, int] = _resolve_imgsz(self.path, self._fixed_hw, self.options, meta)
        self._stride = int(meta.get("stride", DEFAULT_STRIDE))

    def __repr__(self) -> str:
        return f"OnnxDetector({str(self.path)!r}, nc={len(self.names)}, imgsz={self.imgsz})"

    @property
    def is_fixed_shape(self) -> bool:
        """True when the export fixes height and width (every image padded to ``imgsz``)."""
        return self._fixed_hw is not None

    def __call__(self, image: npt.NDArray[np.uint8]) -> Detections:
        return self.predict([image])[0]

    def predict(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        """Detect objects in BGR uint8 images; one ``Detections`` per image, in original pixels."""
        return self.infer(self.prepare(images))

    @property
    def input_plan(self) -> tuple[object, ...]:
        """What decides this model's input blobs: models with the same plan can share one
        ``prepare`` of a frame (a detector set letterboxes each frame once for them)."""
        return (self._fixed_hw, self.imgsz, self._stride, self._batch)

    def prepare(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Prepared]:
        """Letterboxed input blobs of ``images``, one per batch the model runs."""
        for index, image in enumerate(images):
            _check_image(index, image)
        step = self._batch or max(len(images), 1)
        prepared = []
        for start in range(0, len(images), step):
            chunk = images[start : start + step]
            input_hw = self._fixed_hw or stride_aligned_hw(
                [(im.shape[0], im.shape[1]) for im in chunk], self.imgsz, self._stride
            )
            prepared.append(preprocess(chunk, input_hw))
        return prepared

    def infer(self, prepared: Sequence[Prepared]) -> list[Detections]:
        """Run and decode the blobs ``prepare`` made: one ``Detections`` per image."""
        results: list[Detections] = []
        for blob, boxes in prepared:
            if self._batch and self._batch > len(boxes):  # fixed batch: fill the rest with zeros
                filler = np.zeros((self._batch - len(boxes), *blob.shape[1:]), blob.dtype)
                blob = np.concatenate([blob, filler])
            feed = {self._input_name: blob.astype(self._input_dtype, copy=False)}
            raw = np.asarray(self._session.run(None, feed)[0])  # shape checked when loaded
            opts = self.options
            results += [
                decode_output(raw[i], box, self.names, opts.conf, opts.iou, opts.max_det)
                for i, box in enumerate(boxes)
            ]
        return results


def decode_output(
    pred: npt.NDArray[np.floating[Any]],
    letterbox: Letterbox,
    names: Sequence[str],
    conf: float,
    iou: float,
    max_det: int,
) -> Detections:
    """Turn one image's raw (4 + nc, anchors) output into ``Detections`` in original pixels."""
    pred = np.asarray(pred, np.float32)
    scores = pred[4:]
    confidence = scores.max(axis=0)
    keep = np.flatnonzero(confidence > conf)
    if keep.size > MAX_NMS:
        keep = keep[np.argsort(-confidence[keep], kind="stable")[:MAX_NMS]]
    class_id = scores[:, keep].argmax(axis=0)
    cx, cy, w, h = pred[:4, keep]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    order = batched_nms(xyxy, confidence[keep], class_id, iou, max_keep=max_det)
    return Detections.from_arrays(
        letterbox.to_original(xyxy[order]), confidence[keep][order], class_id[order], names
    )


def parse_names(text: str, source: Path) -> tuple[str, ...]:
    """Parse the ``names`` metadata Ultralytics writes (``"{0: 'person', ...}"``) without eval."""
    value = _literal(text, "names", source)
    if isinstance(value, dict) and set(value) == set(range(len(value))):
        value = [value[i] for i in range(len(value))]
    if not isinstance(value, list | tuple) or not all(isinstance(n, str) for n in value):
        raise ModelError(
            f"{source}: 'names' metadata must map 0..n-1 to class names, got {text[:80]!r}"
        )
    return tuple(value)


def _literal(text: str, key: str, source: Path) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise ModelError(
            f"{source}: {key!r} metadata is not a Python literal: {text[:80]!r}"
        ) from exc


def _open_session(
    path: Path, threads: int | None, providers: Sequence[str] | None
) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelError(f"ONNX model not found: {path}")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be >= 1 (or None for all cores), got {threads}")
    wanted = list(providers or ["CPUExecutionProvider"])
    missing = [p for p in wanted if p not in ort.get_available_providers()]
    if missing:
        raise ConfigError(
            f"ONNX Runtime providers not available here: {missing}; "
            f"available: {ort.get_available_providers()}"
        )
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: ORT's warnings are noise to a user
    # Idle worker threads sleep instead of spinning: on a shared CPU (cameras, tracker, a training
    # job) spinning threads steal the cores the busy ones need (docs/benchmarks/detect.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=wanted)
    except Exception as exc:  # ORT's pybind errors share no base class below Exception
        raise ModelError(f"cannot load ONNX model {path}: {exc}") from exc


def _check_task(path: Path, meta: Mapping[str, str]) -> None:
    task = meta.get("task", "detect")
    if task != "detect":
        raise ModelError(
            f"{path} is an Ultralytics '{task}' export; Shirong needs a 'detect' export "
            "(yolo export model=... format=onnx from a detection model)"
        )
    if meta.get("end2end") == "True":
        raise ModelError(
            f"{path} has NMS built in (end2end export); re-export it with nms=False "
            "so Shirong's decoder sees the raw (batch, 4 + nc, anchors) output"
        )


def _output_channels(path: Path, session: ort.InferenceSession) -> int:
    """4 + nc from the output shape; rejects anything but one (batch, 4 + nc, anchors) output."""
    shapes = [o.shape for o in session.get_outputs()]
    channels = shapes[0][1] if len(shapes) == 1 and len(shapes[0]) == 3 else None
    if not isinstance(channels, int) or channels < 5:
        raise ModelError(
            f"{path} has outputs of shape {shapes}; expected one output of shape "
            "(batch, 4 + nc, anchors) with a fixed nc, as Ultralytics detect exports have"
        )
    return channels


def _resolve_names(
    path: Path, meta: Mapping[str, str], names: Sequence[str] | None, channels: int
) -> tuple[str, ...]:
    if names is not None:
        resolved = tuple(names)
    elif "names" in meta:
        resolved = parse_names(meta["names"], path)
    else:
        raise ModelError(
            f"{path} has no 'names' metadata (not an Ultralytics export?); "
            f"pass names=[...] listing its {channels - 4} classes"
        )
    if channels - 4 != len(resolved):
        raise ModelError(
            f"{path} predicts {channels - 4} classes (output has {channels} channels) but "
            f"{len(resolved)} class names were given"
        )
    return resolved


def _input_dtype(path: Path, onnx_type: str) -> type[np.floating[Any]]:
    if onnx_type not in INPUT_DTYPES:
        raise ModelError(f"{path} takes {onnx_type} input; expected float32 or float16 images")
    return INPUT_DTYPES[onnx_type]


def _input_layout(path: Path, shape: Sequence[Any]) -> tuple[int | None, tuple[int, int] | None]:
    """(fixed batch or None, fixed (h, w) or None) from the input shape (strings mean dynamic)."""
    if len(shape) != 4 or shape[1] != 3:
        raise ModelError(f"{path} has input shape {shape}; expected (batch, 3, height, width)")
    batch = shape[0] if isinstance(shape[0], int) else None
    fixed = isinstance(shape[2], int) and isinstance(shape[3], int)
    return batch, (shape[2], shape[3]) if fixed else None


def _resolve_imgsz(
    path: Path,
    fixed_hw: tuple[int, int] | None,
    options: DetectorOptions,
    meta: Mapping[str, str],
) -> tuple[int, int]:
    wanted = options.imgsz_hw
    if fixed_hw is not None:
        if wanted is not None and wanted != fixed_hw:
            raise ModelError(
                f"{path} was exported for a fixed {fixed_hw[0]}x{fixed_hw[1]} input, not imgsz="
                f"{wanted[0]}x{wanted[1]}; leave imgsz unset or re-export with dynamic=True"
            )
        return fixed_hw
    if wanted is not None:
        return wanted
    if "imgsz" in meta:
        side = _literal(meta["imgsz"], "imgsz", path)
        return (int(side[0]), int(side[1])) if isinstance(side, list) else (int(side), int(side))
    return DEFAULT_IMGSZ, DEFAULT_IMGSZ


def _check_image(index: int, image: Any) -> None:
    if (
        not isinstance(image, np.ndarray)
        or image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] != 3
        or min(image.shape[:2]) == 0
    ):
        got = (
            f"shape {image.shape} {image.dtype}"
            if isinstance(image, np.ndarray)
            else type(image).__name__
        )
        raise InputError(f"image {index}: expected an H×W×3 uint8 BGR array, got {got}")
