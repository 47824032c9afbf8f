"""Detection engine: one ``Detector`` interface over ONNX Runtime (default) and Ultralytics/torch.

``load_detector()`` with no path runs the project's default detector set (``models/default.yaml``,
see ``default_detection``); a model path runs that one model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from detection.core import Detections
from detection.engine.detector_set import DetectorSet, read_set_file
from detection.engine.onnx import OnnxDetector
from detection.engine.options import DetectorOptions
from detection.engine.torch_backend import UltralyticsDetector
from detection.errors import ConfigError, ModelError
from detection.resources import resource

__all__ = [
    "Detector",
    "DetectorOptions",
    "DetectorSet",
    "OnnxDetector",
    "UltralyticsDetector",
    "check_detection",
    "default_detection",
    "load_detector",
    "model_files",
]


DEFAULT_MODELS = "models/default.yaml"
SET_SUFFIXES = (".yaml", ".yml")
MODEL_ENV = "SHIRONG_MODEL"
SHARED_ENV = "SHIRONG_SHARED"  # moves ../shared (data, weights, videos)
Backend = Literal["onnx", "ultralytics"]


@runtime_checkable
class Detector(Protocol):
    """What the pipeline needs from a detector, whatever runs it."""

    @property
    def names(self) -> tuple[str, ...]: ...

    def predict(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]: ...

    def __call__(self, image: npt.NDArray[np.uint8]) -> Detections: ...


def load_detector(
    path: str | Path | None = None, backend: Backend = "onnx", **opts: Any
) -> Detector:
    """Open a detector: a set file (``.yaml``) opens a ``DetectorSet`` of its models, any other
    path one model. With no path, ``default_detection()``: the project's default set, or the one
    model ``$SHIRONG_MODEL`` names. This is the one place every caller (``shirong detect`` and
    ``watch``, the service's workers, the Ray actors) gets its detector from. ``opts`` go to each
    model's backend (conf, iou, imgsz, max_det, threads/device)."""
    model = Path(path) if path is not None else default_detection()
    if model.suffix in SET_SUFFIXES:
        return DetectorSet(model, lambda member, **o: load_detector(member, backend, **o), **opts)
    if backend == "onnx":
        return OnnxDetector(model, **opts)
    if backend == "ultralytics":
        return UltralyticsDetector(model, **opts)
    raise ConfigError(f"unknown detector backend {backend!r}; choose 'onnx' or 'ultralytics'")


def default_detection(root: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """What runs when no model is named: ``$SHIRONG_MODEL`` (one model, or a set file; an error
    if that file is missing), else the set file ``models/default.yaml`` in ``root`` where given,
    else in the checkout or the installed copy (``detection.resources``)."""
    env = os.environ if environ is None else environ
    if env.get(MODEL_ENV):
        chosen = Path(env[MODEL_ENV])
        if not chosen.is_file():
            raise ModelError(f"${MODEL_ENV} names a missing model file: {chosen}")
        return chosen
    default = resource(DEFAULT_MODELS) if root is None else root / DEFAULT_MODELS
    if not default.is_file():
        raise ModelError(
            f"no detection model found: ${MODEL_ENV} is unset and the default set {default} is "
            f"absent. Pass a model path, or set {MODEL_ENV}=/path/to/model.onnx"
        )
    return default


def check_detection(path: Path | None = None) -> None:
    """ModelError or ConfigError now where opening ``path`` (None: the default) would fail for a
    missing file or a bad set file, without loading any model (the API process never does)."""
    model = path if path is not None else default_detection()
    if model.suffix in SET_SUFFIXES:
        read_set_file(model)
    elif not model.is_file():
        raise ModelError(f"ONNX model not found: {model}")


def model_files(set_file: Path) -> list[Path]:
    """The ONNX files a set file runs, in its order (the first is the disorder model)."""
    return [set_file.parent / m.path for m in read_set_file(set_file).models]
