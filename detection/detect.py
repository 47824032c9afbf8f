"""``shirong detect``: run a model over a source; write detections.jsonl and annotated output.

Stills are written as annotated JPEGs; videos and streams as one annotated MP4. Every JSONL line is
flushed as it is written, so an interrupted run keeps every frame it finished.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
import numpy.typing as npt

from detection.annotate import annotate
from detection.capture import open_source
from detection.capture.base import FrameSource
from detection.capture.files import ImageSource, VideoFileSource
from detection.core import Detections, Frame
from detection.engine import load_detector
from detection.errors import InputError
from detection.track import ByteTracker, TrackerConfig

log = logging.getLogger(__name__)


def frame_record(frame: Frame, detections: Detections, image: Path | None) -> dict[str, Any]:
    """The JSON object written for one frame (``image``: the still's file, for folders)."""
    meta = frame.meta
    record: dict[str, Any] = {
        "source": meta.source_id,
        "frame_index": meta.frame_index,
        "timestamp": meta.wall_time.isoformat(),
        "pts": round(meta.pts, 3),
        "width": meta.width,
        "height": meta.height,
        "detections": detections.to_records(),
    }
    if image is not None:
        record["image"] = str(image)
    if meta.gps is not None:
        record["gps"] = {"lat": meta.gps.lat, "lon": meta.gps.lon, "heading": meta.gps.heading}
    return record


class AnnotatedVideo:
    """Writes annotated frames to one MP4, opened lazily at the first frame's size."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None

    def write(self, image: npt.NDArray[np.uint8]) -> None:
        if self._writer is None:
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            size = (image.shape[1], image.shape[0])
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, size)
            if not self._writer.isOpened():
                raise InputError(f"cannot write video {self.path}")
        self._writer.write(image)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


@contextmanager
def _outputs(out: Path, video: AnnotatedVideo | None) -> Iterator[IO[str]]:
    out.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack, (out / "detections.jsonl").open("w", encoding="utf-8") as jsonl:
        if video is not None:
            stack.callback(video.close)
        yield jsonl


def run_detect(
    source: FrameSource, out: Path, *, model: Path | None, conf: float, fps: float, **opts: Any
) -> int:
    """Process every frame of ``source``; returns the number of frames written.

    Videos and streams are tracked. The tracker's second stage needs the low-confidence boxes, so
    the detector runs at the tracker's low threshold and ``conf`` filters what is written.
    """
    moving = source.is_live or isinstance(source, VideoFileSource)
    tracker = ByteTracker(TrackerConfig(frame_rate=fps)) if moving else None
    low = min(conf, tracker.config.low_thresh) if tracker is not None else conf
    detector = load_detector(model, conf=low, **opts)
    video = AnnotatedVideo(out / "annotated.mp4", fps) if tracker is not None else None
    count = 0
    with _outputs(out, video) as jsonl:
        for frame in source:
            dets = detector(frame.image)
            if tracker is not None:
                dets = tracker.update(dets)
            dets = dets[dets.confidence >= conf]
            index = frame.meta.frame_index
            still = source.paths[index] if isinstance(source, ImageSource) else None
            jsonl.write(json.dumps(frame_record(frame, dets, still), ensure_ascii=False) + "\n")
            jsonl.flush()
            drawn = annotate(frame.image, dets)
            if video is not None:
                video.write(drawn)
            else:
                stem = still.stem if still is not None else f"frame_{index:06d}"
                (out / "annotated").mkdir(exist_ok=True)
                cv2.imwrite(str(out / "annotated" / f"{stem}.jpg"), drawn)
            count += 1
    return count


def _cmd(args: argparse.Namespace) -> int:
    opts: dict[str, Any] = {"imgsz": args.imgsz} if args.imgsz else {}
    with open_source(args.source, fps=args.fps) as source:
        fps = args.fps or getattr(source, "native_fps", None) or 10.0
        n = run_detect(source, args.out, model=args.model, conf=args.conf, fps=fps, **opts)
    print(f"{n} frames → {args.out / 'detections.jsonl'}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("detect", help="detect objects in an image, folder, video or stream")
    p.add_argument("source", help="image, folder of images, video file or rtsp/http URL")
    p.add_argument("--model", type=Path, help="ONNX model (default: the released model)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--conf", type=float, default=0.25, help="minimum confidence (default 0.25)")
    p.add_argument("--fps", type=float, help="sample videos and streams at this many frames/s")
    p.add_argument("--imgsz", type=int, help="inference size in pixels (default: the model's)")
    p.set_defaults(func=_cmd)
