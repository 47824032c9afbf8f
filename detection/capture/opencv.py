"""OpenCV glue: decoding images from bytes and opening captures with per-source FFmpeg options.

OpenCV's FFmpeg backend reads its demuxer options (RTSP transport, probe size, ...) only from the
process-wide ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` environment variable, at open time. :class:`_EnvGate`
lets captures that need the *same* options open concurrently and serialises only opens that need
different ones, then restores the variable, so one camera's options never leak into another open.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from detection.errors import InputError

ENV_VAR = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

# Suffixes OpenCV decodes in every build; anything else in a folder is skipped with a warning.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".pbm", ".pgm"}
    | {".ppm", ".pnm", ".jp2"}
)


def decode_image(path: Path) -> npt.NDArray[np.uint8]:
    """Read an image file as BGR uint8 (EXIF orientation applied); InputError names the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read image {path}: {exc.strerror or exc}") from exc
    if not data:
        raise InputError(f"cannot decode image {path}: the file is empty")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot decode image {path}: corrupt or not an image")
    return as_bgr(image)


def as_bgr(image: Any) -> npt.NDArray[np.uint8]:
    """An OpenCV BGR result as the contiguous uint8 array ``Frame`` wants (no copy if it is)."""
    return np.ascontiguousarray(image, dtype=np.uint8)


def ffmpeg_options(options: Mapping[str, str]) -> str | None:
    """Format demuxer options the way OpenCV parses them (``key;value|key;value``).

    Options already set in the environment come first so that ours, set later, win.
    """
    if not options:
        return None
    ours = "|".join(f"{key};{value}" for key, value in options.items())
    base = _ENV_GATE.baseline
    return f"{base}|{ours}" if base else ours


def open_capture(
    target: str, params: Sequence[int] = (), options: str | None = None
) -> cv2.VideoCapture:
    """Open ``target`` with the FFmpeg backend, ``params`` (cv2.CAP_PROP_* pairs) and ``options``.

    ``options=None`` uses the environment as the process started with it. The caller must check
    ``isOpened()`` and release the capture.
    """
    with _ENV_GATE.holding(options):
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG, list(params))


class _EnvGate:
    """Holds ``ENV_VAR`` at one value while any open needing that value is in progress."""

    def __init__(self) -> None:
        self.baseline = os.environ.get(ENV_VAR)
        self._cond = threading.Condition()
        self._value: str | None = self.baseline
        self._users = 0

    @contextmanager
    def holding(self, options: str | None) -> Iterator[None]:
        value = self.baseline if options is None else options
        with self._cond:
            while self._users and self._value != value:
                self._cond.wait()
            if not self._users:
                _set_env(value)
                self._value = value
            self._users += 1
        try:
            yield
        finally:
            with self._cond:
                self._users -= 1
                if not self._users:
                    _set_env(self.baseline)
                    self._value = self.baseline
                    self._cond.notify_all()


def _set_env(value: str | None) -> None:
    if value is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = value


_ENV_GATE = _EnvGate()
