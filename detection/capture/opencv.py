"""OpenCV glue: decoding images from bytes and opening video files and image URLs.

Live streams are read with PyAV instead (:mod:`detection.capture.decode`): OpenCV cannot be told
to skip decoding frames nobody analyses.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from detection.errors import InputError

# Suffixes OpenCV decodes in every build; anything else in a folder is skipped with a warning.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".pbm", ".pgm"}
    | {".ppm", ".pnm", ".jp2"}
)


# IMREAD_REDUCED_COLOR_n by scale denominator n: libjpeg decodes a JPEG at 1/n scale directly (a
# 1/n² share of the memory); other formats are decoded in full, then resized.
_REDUCED = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def reduction(size: tuple[int, int], min_side: int) -> int:
    """The largest scale denominator (8, 4, 2, else 1) that keeps the long side >= ``min_side``."""
    return next((n for n in (8, 4, 2) if max(size) // n >= min_side), 1)


def decode_image(path: Path, min_side: int | None = None) -> npt.NDArray[np.uint8]:
    """Read an image file as BGR uint8 (EXIF orientation applied); InputError names the file.

    ``min_side`` decodes at 1/2, 1/4 or 1/8 scale while the long side stays at least that long,
    so a large photo costs a fraction of its full decode (for a detector that sees 640 px).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read image {path}: {exc.strerror or exc}") from exc
    if not data:
        raise InputError(f"cannot decode image {path}: the file is empty")
    flags = cv2.IMREAD_COLOR
    if min_side is not None:
        flags = _REDUCED.get(reduction(_header_size(data), min_side), flags)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise InputError(f"cannot decode image {path}: corrupt or not an image")
    return as_bgr(image)


def _header_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header, nothing decoded; (0, 0) where Pillow cannot tell, so the
    image is decoded in full and OpenCV judges it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return 0, 0


def as_bgr(image: Any) -> npt.NDArray[np.uint8]:
    """An OpenCV BGR result as the contiguous uint8 array ``Frame`` wants (no copy if it is)."""
    return np.ascontiguousarray(image, dtype=np.uint8)


def open_capture(target: str, params: Sequence[int] = ()) -> cv2.VideoCapture:
    """Open ``target`` with the FFmpeg backend and ``params`` (cv2.CAP_PROP_* pairs).

    The caller must check ``isOpened()`` and release the capture.
    """
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, list(params))
