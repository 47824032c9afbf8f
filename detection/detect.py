"""``shirong detect``: run a model over a source; write detections.jsonl and annotated output.

Stills are written as annotated JPEGs; videos and streams as one annotated MP4. Every JSONL line is
flushed as it is written, so an interrupted run keeps every frame it finished.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
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
from detection.taxonomy import default_taxonomy
from detection.text import TextReader, phone_numbers, text_candidates, with_candidates
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
    for box in record["detections"]:
        if "text" in box:
            box["phone_numbers"] = phone_numbers(box["text"])
    if image is not None:
        record["image"] = str(image)
    if meta.gps is not None:
        record["gps"] = {"lat": meta.gps.lat, "lon": meta.gps.lon, "heading": meta.gps.heading}
    return record


class AnnotatedVideo:
    """Writes annotated frames to one MP4, opened lazily at the first frame's size.

    Browsers play H.264 only, so frames are piped to the ``ffmpeg`` binary (libx264, yuv420p,
    moov atom first). Without ffmpeg, OpenCV's MPEG-4 Part 2 (``mp4v``) is written with a warning:
    players such as VLC open it, Chromium does not.
    """

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self._writer: _H264Writer | cv2.VideoWriter | None = None

    def write(self, image: npt.NDArray[np.uint8]) -> None:
        if self._writer is None:
            self._writer = self._open(image.shape[1], image.shape[0])
        self._writer.write(image)

    def _open(self, width: int, height: int) -> _H264Writer | cv2.VideoWriter:
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is not None:
            return _H264Writer(ffmpeg, self.path, self.fps, width, height)
        log.warning(
            "ffmpeg is not installed: %s is MPEG-4 Part 2 (mp4v), which browsers do not play; "
            "install ffmpeg (scripts/setup.sh) for H.264",
            self.path.name,
        )
        writer = cv2.VideoWriter(
            str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, (width, height)
        )
        if not writer.isOpened():
            raise InputError(f"cannot write video {self.path}")
        return writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


class _H264Writer:
    """BGR frames on an ``ffmpeg`` process's stdin → H.264 MP4 (odd sizes padded to even)."""

    def __init__(self, ffmpeg: str, path: Path, fps: float, width: int, height: int) -> None:
        self.path = path
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in release or _failed)
        # fmt: off
        command = [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps:g}",
            "-i", "pipe:0", "-an", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", str(path),
        ]
        # fmt: on
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=self._log)

    def write(self, image: npt.NDArray[np.uint8]) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(np.ascontiguousarray(image).tobytes())
        except BrokenPipeError:
            raise self._failed() from None

    def release(self) -> None:
        """Finish the file; raises if ffmpeg failed (once: not again after a failed write)."""
        if self._log.closed:
            return
        stdin = self._process.stdin
        assert stdin is not None
        with suppress(BrokenPipeError):  # ffmpeg has gone: its exit status says why
            stdin.close()
        if self._process.wait() != 0:
            raise self._failed()
        self._log.close()

    def _failed(self) -> InputError:
        """What ffmpeg said (its last line) as the error; the process is stopped."""
        self._process.kill()
        self._process.wait()
        self._log.seek(0)
        said = self._log.read().decode("utf-8", "replace").strip().splitlines()
        self._log.close()
        reason = said[-1] if said else f"exit status {self._process.returncode}"
        return InputError(f"cannot write video {self.path}: ffmpeg: {reason}")


@contextmanager
def _outputs(out: Path, video: AnnotatedVideo | None) -> Iterator[IO[str]]:
    out.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack, (out / "detections.jsonl").open("w", encoding="utf-8") as jsonl:
        if video is not None:
            stack.callback(video.close)
        yield jsonl


def run_detect(
    source: FrameSource,
    out: Path,
    *,
    model: Path | None,
    conf: float,
    fps: float,
    ocr_interval_s: float | None = None,
    **opts: Any,
) -> int:
    """Process every frame of ``source``; returns the number of frames written.

    Videos and streams are tracked. The tracker's second stage needs the low-confidence boxes, so
    the detector runs at the tracker's low threshold and ``conf`` filters what is written.
    With ``ocr_interval_s``, the text reader adds poster and banner candidates (with their text
    and phone numbers) on every still, and on a video or stream frame once per that many seconds
    of its time (0: every frame): a read costs many detector frames.
    """
    moving = source.is_live or isinstance(source, VideoFileSource)
    tracker = ByteTracker(TrackerConfig(frame_rate=fps)) if moving else None
    low = min(conf, tracker.config.low_thresh) if tracker is not None else conf
    detector = load_detector(model, conf=low, **opts)
    reader = TextReader() if ocr_interval_s is not None else None
    last_read: float | None = None
    video = AnnotatedVideo(out / "annotated.mp4", fps) if tracker is not None else None
    count = 0
    with _outputs(out, video) as jsonl:
        for frame in source:
            dets = detector(frame.image)
            if tracker is not None:
                dets = tracker.update(dets)
            dets = dets[dets.confidence >= conf]
            pts = frame.meta.pts
            due = not moving or last_read is None or pts - last_read >= (ocr_interval_s or 0)
            if reader is not None and due:
                last_read = pts
                regions = reader.read(frame.image, frame.meta.source_id)
                found = text_candidates(frame, regions, dets, default_taxonomy())
                dets = with_candidates(dets, found)
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
    ocr = args.ocr_interval if args.ocr else None
    with open_source(args.source, fps=args.fps) as source:
        fps = args.fps or getattr(source, "native_fps", None) or 10.0
        n = run_detect(
            source, args.out, model=args.model, conf=args.conf, fps=fps, ocr_interval_s=ocr, **opts
        )
    print(f"{n} frames → {args.out / 'detections.jsonl'}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("detect", help="detect objects in an image, folder, video or stream")
    p.add_argument("source", help="image, folder of images, video file or rtsp/http URL")
    p.add_argument(
        "--model", type=Path, help="ONNX model or detector set .yaml (default: models/default.yaml)"
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--conf", type=float, default=0.25, help="minimum confidence (default 0.25)")
    p.add_argument("--fps", type=float, help="sample videos and streams at this many frames/s")
    p.add_argument("--imgsz", type=int, help="inference size in pixels (default: the model's)")
    p.add_argument(
        "--ocr",
        action="store_true",
        help="read text too: poster and banner candidates with their text and phone numbers "
        "(needs the ocr extra)",
    )
    p.add_argument(
        "--ocr-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="with --ocr, read a video or stream frame once per this many seconds of it "
        "(default 5; 0: every frame; stills are always read)",
    )
    p.set_defaults(func=_cmd)
