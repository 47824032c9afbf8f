"""``open_source``: one entry point from a path or URL to the right :class:`FrameSource`."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from detection.capture.base import FrameSource
from detection.capture.files import ImageSource, SnapshotSource, VideoFileSource, list_images
from detection.capture.live import LiveConfig, LiveSource, probe
from detection.capture.opencv import IMAGE_SUFFIXES, as_bgr, open_capture
from detection.capture.redact import redact_url
from detection.errors import ConfigError, InputError, SourceError, validation_message

LIVE_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})

_Options = TypeVar("_Options", bound=BaseModel)


class SourceKind(StrEnum):
    IMAGE = "image"
    FOLDER = "folder"
    VIDEO = "video"
    SNAPSHOT = "snapshot"  # an image URL, fetched once
    LIVE = "live"


class FileOptions(BaseModel):
    """Options of image, folder and video sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_time: AwareDatetime | None = Field(
        None,
        description="Wall time of the first frame (videos) or of every image; default: each "
        "file's modification time.",
    )
    min_side: int | None = Field(
        None,
        ge=1,
        description="Still images: decode at 1/2, 1/4 or 1/8 scale (JPEGs inside the decoder, at "
        "a fraction of the memory) while the long side stays at least this; None: full size.",
    )


class SnapshotOptions(BaseModel):
    """Options of an image fetched from an HTTP(S) URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open_timeout_s: float = Field(10.0, gt=0, le=300, description="Connect and read timeout.")


def classify(uri: str) -> SourceKind:
    """Which kind of source ``uri`` is; raises for unknown schemes and missing files."""
    scheme, sep, _ = uri.partition("://")
    if sep:
        _check_url(uri, scheme.lower())
        if scheme.lower() in {"http", "https"} and _has_image_suffix(urlsplit(uri).path):
            return SourceKind.SNAPSHOT
        return SourceKind.LIVE
    path = Path(uri).expanduser()
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    if path.is_dir():
        return SourceKind.FOLDER
    return SourceKind.IMAGE if _has_image_suffix(path.name) else SourceKind.VIDEO


def open_source(
    uri: str, *, fps: float | None = None, source_id: str | None = None, **opts: Any
) -> FrameSource:
    """Open an image, a folder of images, a video file, an image URL or a live stream.

    ``fps`` samples videos by timestamp and rate-limits live streams (still images have no
    timeline and ignore it). ``source_id`` defaults to the file or folder name, or the URL's
    host and path. ``opts`` are :class:`FileOptions` (``start_time``) for files,
    :class:`SnapshotOptions` for image URLs and :class:`LiveConfig` fields for live streams.
    Errors name the input with any password redacted.
    """
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number, got {fps} for {redact_url(uri)}")
    kind = classify(uri)
    sid = source_id or _default_source_id(uri, kind)
    if kind is SourceKind.LIVE:
        config = _options(LiveConfig, kind, uri, opts)
        return LiveSource(uri, source_id=sid, fps=fps, config=config)
    if kind is SourceKind.SNAPSHOT:
        timeout_s = _options(SnapshotOptions, kind, uri, opts).open_timeout_s
        return SnapshotSource(
            _fetch_image(uri, timeout_s),
            source_id=sid,
            display_uri=redact_url(uri),
            wall_time=datetime.now(UTC),
        )
    options = _options(FileOptions, kind, uri, opts)
    path = Path(uri).expanduser()
    if kind is SourceKind.VIDEO:
        return VideoFileSource(path, source_id=sid, fps=fps, start_time=options.start_time)
    folder = kind is SourceKind.FOLDER
    return ImageSource(
        list_images(path) if folder else [path],
        source_id=sid,
        display_uri=str(path),
        start_time=options.start_time,
        skip_unreadable=folder,
        min_side=options.min_side,
    )


def _check_url(uri: str, scheme: str) -> None:
    shown = redact_url(uri)
    if scheme not in LIVE_SCHEMES:
        raise SourceError(
            f"unsupported source {shown}: scheme '{scheme}://' is not one of "
            f"{', '.join(f'{s}://' for s in sorted(LIVE_SCHEMES))} (or give a file/folder path)"
        )
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises for a non-numeric or out-of-range port
    except ValueError as exc:
        raise SourceError(f"malformed URL {shown}: {exc}") from None
    if not parts.hostname:
        raise SourceError(f"malformed URL {shown}: it has no host")


def _has_image_suffix(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def _default_source_id(uri: str, kind: SourceKind) -> str:
    if kind in (SourceKind.LIVE, SourceKind.SNAPSHOT):
        parts = urlsplit(uri)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.hostname}{port}{parts.path}".rstrip("/")
    return Path(uri).expanduser().resolve().name


def _options(model: type[_Options], kind: SourceKind, uri: str, opts: dict[str, Any]) -> _Options:
    try:
        return model(**opts)
    except ValidationError as exc:
        problems = validation_message(exc, top="options")
        valid = ", ".join(model.model_fields)
        raise ConfigError(
            f"invalid options for {kind} source {redact_url(uri)}: {problems} (valid: {valid})"
        ) from None


def _fetch_image(uri: str, timeout_s: float) -> npt.NDArray[np.uint8]:
    shown = redact_url(uri)
    unreachable = probe(uri, timeout_s)
    if unreachable:
        raise SourceError(f"cannot fetch image {shown}: {unreachable}")
    ms = round(timeout_s * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    cap = open_capture(uri, params)
    try:
        ok, image = cap.read() if cap.isOpened() else (False, None)
    finally:
        cap.release()
    if not ok or image is None:
        raise SourceError(f"cannot fetch image {shown}: not found, not an image, or access denied")
    return as_bgr(image)
