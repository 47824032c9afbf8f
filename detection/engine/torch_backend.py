"""Ultralytics (torch) detector behind the same interface as ``OnnxDetector``.

Used for training-time evaluation and as the reference the ONNX path is checked against; needs the
``train`` extra. Ultralytics also loads ``.onnx`` files, but for those ``OnnxDetector`` is faster.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from detection.core import Detections
from detection.engine.options import DetectorOptions, parse_options
from detection.errors import ModelError
from detection.extras import require


class UltralyticsDetector:
    """Run a model through ``ultralytics.YOLO(...).predict`` and return ``Detections``.

    ``rect=False`` (default) letterboxes to the full ``imgsz`` square like a fixed-shape ONNX
    export, so both backends see identical pixels; ``rect=True`` is Ultralytics' own default, the
    smallest stride-aligned rectangle (less compute, slightly different boxes).
    """

    def __init__(
        self,
        path: str | Path,
        conf: float = 0.25,
        iou: float = 0.45,
        imgsz: int | tuple[int, int] | None = None,
        device: str | None = None,
        max_det: int = 300,
        rect: bool = False,
    ) -> None:
        self.path = Path(path)
        self.options: DetectorOptions = parse_options(
            conf=conf, iou=iou, imgsz=imgsz, max_det=max_det
        )
        self.device = device
        self.rect = rect
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        os.environ.setdefault("YOLO_OFFLINE", "1")  # never let Ultralytics reach for the network
        ultralytics = require("ultralytics", "train")
        try:
            self._model = ultralytics.YOLO(str(self.path), task="detect")
        except Exception as exc:  # torch/pickle/ultralytics raise many unrelated types
            raise ModelError(f"cannot load Ultralytics model {self.path}: {exc}") from exc
        if self._model.task != "detect":
            raise ModelError(f"{self.path} is a '{self._model.task}' model; expected 'detect'")
        model_names = self._model.names
        self.names: tuple[str, ...] = tuple(model_names[i] for i in range(len(model_names)))

    def __repr__(self) -> str:
        return f"UltralyticsDetector({str(self.path)!r}, nc={len(self.names)})"

    def __call__(self, image: npt.NDArray[np.uint8]) -> Detections:
        return self.predict([image])[0]

    def predict(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        """Detect objects in BGR uint8 images; one ``Detections`` per image, in original pixels."""
        if not images:
            return []
        opts = self.options
        size = {} if opts.imgsz is None else {"imgsz": opts.imgsz}  # None: Ultralytics' default
        results = self._model.predict(
            list(images),
            conf=opts.conf,
            iou=opts.iou,
            max_det=opts.max_det,
            device=self.device,
            rect=self.rect,
            verbose=False,
            **size,
        )
        return [Detections.from_ultralytics(r) for r in results]
