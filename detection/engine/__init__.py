"""Detection engine: one ``Detector`` interface over ONNX Runtime (default) and Ultralytics/torch.

``load_detector()`` with no path runs the project's released model (see ``default_model_path``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from detection.core import Detections
from detection.engine.onnx import OnnxDetector
from detection.engine.options import DetectorOptions
from detection.engine.torch_backend import UltralyticsDetector
from detection.errors import ConfigError, ModelError
from detection.resources import REPO_ROOT, resource

__all__ = [
    "Detector",
    "DetectorOptions",
    "OnnxDetector",
    "UltralyticsDetector",
    "default_model_path",
    "listed_models",
    "load_detector",
]

log = logging.getLogger(__name__)

DEFAULT_MODELS = "models/default.txt"
MODEL_ENV = "SHIRONG_MODEL"
SHARED_ENV = "SHIRONG_SHARED"
STAND_IN = Path("weights") / "yolov8n-coco-int8.onnx"
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
    """Open a detector; ``opts`` go to the backend (conf, iou, imgsz, max_det, threads/device)."""
    model = Path(path) if path is not None else default_model_path()
    if backend == "onnx":
        return OnnxDetector(model, **opts)
    if backend == "ultralytics":
        return UltralyticsDetector(model, **opts)
    raise ConfigError(f"unknown detector backend {backend!r}; choose 'onnx' or 'ultralytics'")


def default_model_path(root: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The model to run when none is named, first found of:

    1. ``$SHIRONG_MODEL`` (an explicit choice: an error if that file is missing);
    2. the released model: ``models/<name>/model.onnx`` for the first ``<name>`` line of
       ``models/default.txt`` whose file exists (releasing a model = adding its folder and
       writing its name there), in ``root`` where given, else in the checkout or the installed
       copy (``detection.resources``);
    3. the COCO stand-in ``../shared/weights/yolov8n-coco-int8.onnx`` (``$SHIRONG_SHARED`` moves
       ``../shared``), good for people, vehicles and furniture only.
    """
    env = os.environ if environ is None else environ
    if env.get(MODEL_ENV):
        chosen = Path(env[MODEL_ENV])
        if not chosen.is_file():
            raise ModelError(f"${MODEL_ENV} names a missing model file: {chosen}")
        return chosen
    default_txt = resource(DEFAULT_MODELS) if root is None else root / DEFAULT_MODELS
    listed = listed_models(default_txt)
    for name in listed:
        candidate = default_txt.parent / name / "model.onnx"
        if candidate.is_file():
            return candidate
    if listed:
        log.warning("%s lists %s but none has a model.onnx", default_txt, listed)
    shared = (REPO_ROOT if root is None else root).parent / "shared"
    stand_in = Path(env.get(SHARED_ENV, shared)) / STAND_IN
    if stand_in.is_file():
        log.info("no released model; using the COCO stand-in %s", stand_in)
        return stand_in
    raise ModelError(
        f"no detection model found: ${MODEL_ENV} is unset, {default_txt} "
        f"{'lists ' + str(listed) + ' without a model.onnx' if listed else 'names no model'}, "
        f"and the stand-in {stand_in} is absent. Pass a model path, set {MODEL_ENV}=/path/to/"
        "model.onnx, or release one as models/<name>/model.onnx and write <name> into "
        "models/default.txt"
    )


def listed_models(default_txt: Path) -> list[str]:
    """Folder names in ``models/default.txt``: one per line, blank lines and # comments skipped."""
    if not default_txt.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in default_txt.read_text("utf-8").splitlines())
    return [line for line in lines if line]
