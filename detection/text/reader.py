"""The text reader: PP-OCRv4 mobile (RapidOCR's ONNX models, from its wheel) over a BGR frame.

OCR is far slower than the detector, so callers budget it (every photo, a dashcam frame every few
seconds, a camera's changed scene at most once per interval: docs/benchmarks/ocr.md). A frame is
scaled down to ``max_side`` first: that size sets the cost. A frame the OCR fails on gives no
text and the detection goes on; the failure is logged once per source, since a broken source
fails on every frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from detection.core import FloatArray
from detection.extras import require

log = logging.getLogger(__name__)


class ReaderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_side: int = Field(
        default=1024,
        ge=64,
        le=4096,
        description="A frame's longer side is scaled down to this many pixels before reading: "
        "the OCR's cost grows with it, and small print needs it.",
    )
    min_score: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Lines the recogniser reads with less confidence than this are dropped.",
    )
    threads: int = Field(
        default=0,
        ge=0,
        description="Threads per ONNX session (0: onnxruntime's default, all cores).",
    )


@dataclass(frozen=True)
class TextRegion:
    """One line of text: its four corners (pixels of the frame read, clockwise from top left),
    what it says and the recogniser's confidence."""

    quad: FloatArray
    text: str
    score: float

    def __post_init__(self) -> None:
        if self.quad.shape != (4, 2):
            raise ValueError(f"TextRegion.quad must have shape (4, 2), got {self.quad.shape}")

    @property
    def xyxy(self) -> FloatArray:
        """The quad's axis-aligned bounding box."""
        return np.concatenate([self.quad.min(axis=0), self.quad.max(axis=0)]).astype(np.float32)


class TextReader:
    """Finds and reads the lines of text in BGR frames.

    Loading takes a second (three ONNX sessions), so one reader serves a whole source. Requires
    the ``ocr`` extra (``rapidocr_onnxruntime``), whose wheel carries the models: nothing is
    downloaded.
    """

    def __init__(self, config: ReaderConfig | None = None) -> None:
        self.config = config or ReaderConfig()
        rapidocr = require("rapidocr_onnxruntime", "ocr")
        threads = self.config.threads or -1
        self._ocr = rapidocr.RapidOCR(
            print_verbose=False,
            text_score=self.config.min_score,
            max_side_len=self.config.max_side,
            det_limit_type="max",
            det_limit_side_len=self.config.max_side,
            intra_op_num_threads=threads,
        )
        self._failed: set[str] = set()

    def read(self, image: npt.NDArray[np.uint8], source_id: str = "") -> list[TextRegion]:
        """Every line of text in ``image``, top to bottom; ``[]`` when there is none or the OCR
        failed on it (logged once per ``source_id``)."""
        result = self._run(image, source_id, recognise=True)
        regions = []
        for quad, text, score in result:
            if text.strip():
                regions.append(TextRegion(np.asarray(quad, np.float32), text.strip(), float(score)))
        return regions

    def locate(self, image: npt.NDArray[np.uint8], source_id: str = "") -> FloatArray:
        """Only where text is, as (N, 4, 2) quads, without reading it: the detector's share of the
        cost, enough to tell whether a frame is worth reading."""
        result = self._run(image, source_id, recognise=False)
        return np.asarray(result, np.float32).reshape(-1, 4, 2)

    def _run(self, image: npt.NDArray[np.uint8], source_id: str, *, recognise: bool) -> list[Any]:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"TextReader needs an H×W×3 uint8 image, got {image.shape}")
        scale = min(1.0, self.config.max_side / max(image.shape[:2]))
        small: npt.NDArray[np.uint8] = image
        if scale < 1.0:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            small = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
        try:
            result, _ = self._ocr(small, use_cls=recognise, use_rec=recognise)
        except Exception as exc:  # the OCR's internals: any failure costs this frame's text only
            self._log_failure(source_id, exc)
            return []
        if not result:
            return []
        if recognise:
            return [(np.asarray(q, np.float32) / scale, t, s) for q, t, s in result]
        return [np.asarray(q, np.float32) / scale for q in result]

    def _log_failure(self, source_id: str, exc: Exception) -> None:
        if source_id in self._failed:
            log.debug("OCR failed again on %s: %s", source_id or "a frame", exc)
            return
        self._failed.add(source_id)
        log.warning(
            "OCR failed on a frame of %s (%s: %s); its frames go on without text, and further "
            "failures of this source are logged at debug level",
            source_id or "a source",
            type(exc).__name__,
            exc,
        )
