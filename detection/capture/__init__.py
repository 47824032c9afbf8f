"""Frame sources: images, folders, video files and live RTSP/HTTP streams behind one iterator.

>>> with open_source("clip.mp4", fps=2) as frames:  # doctest: +SKIP
...     for frame in frames:
...         ...
"""

from detection.capture.base import FrameSource
from detection.capture.decode import DecodeMode
from detection.capture.factory import (
    FileOptions,
    SnapshotOptions,
    SourceKind,
    classify,
    open_source,
)
from detection.capture.files import ImageSource, SnapshotSource, VideoFileSource, video_header
from detection.capture.live import Backoff, LiveConfig, LiveSource, StreamState, StreamStatus
from detection.capture.redact import redact_text, redact_url
from detection.capture.sampling import FpsSampler
from detection.capture.substream import SubStreamSource

__all__ = [
    "Backoff",
    "DecodeMode",
    "FileOptions",
    "FpsSampler",
    "FrameSource",
    "ImageSource",
    "LiveConfig",
    "LiveSource",
    "SnapshotOptions",
    "SnapshotSource",
    "SourceKind",
    "StreamState",
    "StreamStatus",
    "SubStreamSource",
    "VideoFileSource",
    "classify",
    "open_source",
    "redact_text",
    "redact_url",
    "video_header",
]
