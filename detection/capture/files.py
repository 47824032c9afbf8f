"""Sources backed by files: one image, a folder of images, an image URL, a video file."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from detection.capture.base import FrameSource
from detection.capture.opencv import IMAGE_SUFFIXES, as_bgr, decode_image, open_capture
from detection.capture.sampling import FpsSampler
from detection.core import Frame, FrameMeta
from detection.errors import InputError

log = logging.getLogger(__name__)

_LISTED_NAMES = 5  # non-image names quoted in the folder warning


def still_frame(
    image: npt.NDArray[np.uint8], source_id: str, index: int, wall_time: datetime
) -> Frame:
    """A frame of a still image: it has no timeline, so ``pts`` is 0."""
    height, width = image.shape[:2]
    meta = FrameMeta(source_id, index, 0.0, wall_time, width, height)
    return Frame(image, meta)


def video_header(path: Path) -> tuple[float, float]:
    """(frames per second, frame count) as a video file's container header gives them, 0 or less
    where it gives none (or the file does not open): what a caller judges the frames it analysed
    against (a video cut short)."""
    cap = open_capture(str(path))
    try:
        return float(cap.get(cv2.CAP_PROP_FPS)), float(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()


def file_time(path: Path) -> datetime:
    """The file's modification time, timezone-aware (UTC)."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError as exc:
        raise InputError(f"cannot stat {path}: {exc.strerror or exc}") from exc


def natural_key(path: Path) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts ``img2.jpg`` before ``img10.jpg``."""
    parts = re.split(r"(\d+)", path.name.lower())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` in natural order; other files are warned about."""
    try:
        files = sorted((p for p in folder.iterdir() if p.is_file()), key=natural_key)
    except OSError as exc:
        raise InputError(f"cannot list folder {folder}: {exc.strerror or exc}") from exc
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    others = [p.name for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        more = f" and {len(others) - _LISTED_NAMES} more" if len(others) > _LISTED_NAMES else ""
        log.warning(
            "skipping %d non-image file(s) in %s: %s%s",
            len(others),
            folder,
            ", ".join(others[:_LISTED_NAMES]),
            more,
        )
    if not images:
        raise InputError(
            f"no images in folder {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return images


class ImageSource(FrameSource):
    """Still images in order; ``frame_index`` indexes :attr:`paths`.

    A single image is decoded when the source is opened, so a corrupt file fails there. In a
    folder a corrupt image is logged (naming the file), recorded in :attr:`skipped` and passed
    over, leaving a gap in ``frame_index``. ``wall_time`` is ``start_time`` if given, else each
    file's mtime. ``min_side`` decodes each image reduced (see :func:`decode_image`).
    """

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        source_id: str,
        display_uri: str,
        start_time: datetime | None = None,
        skip_unreadable: bool = False,
        min_side: int | None = None,
    ) -> None:
        super().__init__(source_id, display_uri)
        self.paths = tuple(paths)
        self.skipped: list[Path] = []
        self._start_time = start_time
        self._skip_unreadable = skip_unreadable
        self._min_side = min_side
        self._next = 0
        self._first = None if skip_unreadable else decode_image(self.paths[0], min_side)

    def __next__(self) -> Frame:
        while self._next < len(self.paths):
            index, path = self._next, self.paths[self._next]
            self._next += 1
            try:
                image = self._first
                if image is None:
                    image = decode_image(path, self._min_side)
                self._first = None
                wall_time = self._start_time or file_time(path)
            except InputError as exc:
                if not self._skip_unreadable:
                    raise
                log.warning("skipping unreadable image in %s: %s", self.uri, exc)
                self.skipped.append(path)
                continue
            return still_frame(image, self.source_id, index, wall_time)
        raise StopIteration

    def close(self) -> None:
        self._next = len(self.paths)
        self._first = None


class SnapshotSource(FrameSource):
    """One image fetched from an HTTP(S) URL when the source is opened (a camera snapshot)."""

    def __init__(
        self,
        image: npt.NDArray[np.uint8],
        *,
        source_id: str,
        display_uri: str,
        wall_time: datetime,
    ) -> None:
        super().__init__(source_id, display_uri)
        self._frame: Frame | None = still_frame(image, source_id, 0, wall_time)

    def __next__(self) -> Frame:
        frame, self._frame = self._frame, None
        if frame is None:
            raise StopIteration
        return frame

    def close(self) -> None:
        self._frame = None


class VideoFileSource(FrameSource):
    """Frames of a video file, optionally sampled down to ``fps`` by their timestamps.

    ``frame_index`` is the frame's position in the file (sampled-out frames are grabbed but never
    decoded to BGR, which keeps sampling cheap); ``pts`` its presentation time in seconds;
    ``wall_time`` is ``start_time`` (default: the file's mtime) plus ``pts``.
    """

    def __init__(
        self,
        path: Path,
        *,
        source_id: str,
        fps: float | None = None,
        start_time: datetime | None = None,
    ) -> None:
        super().__init__(source_id, str(path))
        self.path = path
        self._start_time = start_time or file_time(path)
        self._sampler = FpsSampler(fps)
        self._cap: cv2.VideoCapture | None = open_capture(str(path))
        if not self._cap.isOpened():
            self.close()
            raise InputError(f"cannot open video {path}: corrupt, not a video or unsupported codec")
        self.native_fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or None
        self._index = -1
        if not self._cap.grab():
            self.close()
            raise InputError(f"cannot read video {path}: it has no decodable video frames")
        self._grabbed = True

    def __next__(self) -> Frame:
        while self._cap is not None:
            if not self._grabbed and not self._cap.grab():
                self.close()
                break
            self._grabbed = False
            self._index += 1
            pts = self._position_s()
            if not self._sampler.keep(pts):
                continue
            ok, image = self._cap.retrieve()
            if not ok or image is None:
                log.warning("skipping undecodable frame %d of %s", self._index, self.path)
                continue
            return self._frame(as_bgr(image), pts)
        raise StopIteration

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _position_s(self) -> float:
        """Timestamp of the grabbed frame; falls back to index/fps where the container has none."""
        assert self._cap is not None
        msec = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        if msec > 0 or self._index == 0 or not self.native_fps:
            return max(msec, 0.0) / 1000.0
        return self._index / self.native_fps

    def _frame(self, image: npt.NDArray[np.uint8], pts: float) -> Frame:
        height, width = image.shape[:2]
        wall_time = self._start_time + timedelta(seconds=pts)
        meta = FrameMeta(self.source_id, self._index, pts, wall_time, width, height)
        return Frame(image, meta)
