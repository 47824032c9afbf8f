"""``shirong watch``: source → detector → tracker → rules → incidents.jsonl and evidence files.

Writes ``OUT/incidents.jsonl`` (one incident per line, see ``detection/rules/README.md``) and the
evidence images into ``OUT/evidence/`` (a content-addressed store; incident paths are relative to
it). A long watch survives bad frames (logged and skipped; it stops only after
``MAX_CONSECUTIVE_FAILURES`` in a row) and stream outages (the live source reconnects).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from detection.capture import open_source
from detection.capture.base import FrameSource
from detection.capture.files import ImageSource
from detection.core import Frame, GeoPoint
from detection.engine import Detector, load_detector
from detection.errors import ShirongError
from detection.evidence import EvidenceStore
from detection.geo import GpsTrack, load_track_or_warn, read_exif_gps
from detection.rules.config import SourceConfig, load_config
from detection.rules.engine import RulesEngine
from detection.rules.incident import Incident
from detection.rules.output import IncidentLog
from detection.taxonomy import default_taxonomy
from detection.track import ByteTracker, TrackerConfig

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_FAILURES = 100


@dataclass(frozen=True)
class WatchSummary:
    frames: int
    failed_frames: int
    incidents: int
    located_frames: int


class IncidentSink(Protocol):
    """Where incidents go as they change: ``IncidentLog`` here, the service's database there."""

    def record(self, incident: Incident) -> None: ...

    def __len__(self) -> int: ...


class Locator:
    """Fills ``FrameMeta.gps`` (and a photo's capture time) from a GPS track or photo EXIF."""

    def __init__(self, track: GpsTrack | None, source: FrameSource, config: SourceConfig) -> None:
        self.track = track
        self.paths = source.paths if isinstance(source, ImageSource) else None
        self.tz = config.tz

    def __call__(self, frame: Frame) -> Frame:
        meta = frame.meta
        if self.track is not None:
            return replace(frame, meta=replace(meta, gps=self._on_track(meta.pts, meta.wall_time)))
        if self.paths is not None:
            photo = read_exif_gps(self.paths[meta.frame_index], tz=self.tz)
            wall = photo.time or meta.wall_time
            return replace(frame, meta=replace(meta, gps=photo.point, wall_time=wall))
        return frame

    def _on_track(self, pts: float, wall_time: datetime) -> GeoPoint | None:
        assert self.track is not None
        try:
            return self.track.at_offset(pts) if self.track.has_offsets else self.track.at(wall_time)
        except ValueError as exc:
            log.debug("no GPS position for pts %.2f: %s", pts, exc)
            return None


def watch(
    source: FrameSource,
    detector: Detector,
    engine: RulesEngine,
    incidents: IncidentSink,
    *,
    tracker: ByteTracker,
    locate: Callable[[Frame], Frame],
    on_frame: Callable[[Frame], None] | None = None,
) -> WatchSummary:
    """Run until the source ends; every incident state goes to ``incidents`` as it changes.

    ``on_frame`` sees each analysed frame (a service keeps counts, progress and a snapshot).
    """
    frames = failed = in_a_row = located = 0
    try:
        for raw in source:
            frames += 1
            try:
                frame = locate(raw)
                located += frame.meta.gps is not None
                for inc in engine.process(frame, tracker.update(detector(frame.image))):
                    incidents.record(inc)
                if on_frame is not None:
                    on_frame(frame)
                in_a_row = 0
            except Exception as exc:  # a bad frame must not end a long watch
                failed += 1
                in_a_row += 1
                log.warning("frame %d of %s skipped: %s", raw.meta.frame_index, source.uri, exc)
                if in_a_row >= MAX_CONSECUTIVE_FAILURES:
                    raise ShirongError(
                        f"{in_a_row} frames in a row of {source.uri} failed; last error: {exc}"
                    ) from exc
    finally:
        for inc in engine.close_all():
            incidents.record(inc)
    return WatchSummary(frames, failed, len(incidents), located)


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM (service stop) unwinds like Ctrl-C, so open incidents are written out."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_watch(args: argparse.Namespace) -> int:
    taxonomy = default_taxonomy()
    config = load_config(args.config, taxonomy).source(args.source_id)
    out: Path = args.out
    store = EvidenceStore(out / "evidence")
    track = load_track_or_warn(args.gps, tz=config.tz) if args.gps else None
    opts: dict[str, Any] = {}
    if track is not None and track.has_times and not track.has_offsets:
        opts["start_time"] = track.guessed_video_start
    engine = RulesEngine(config, taxonomy=taxonomy, store=store)
    with (
        _terminate_as_exit(),
        open_source(args.source, fps=args.fps, source_id=config.id, **opts) as source,
        IncidentLog(out / "incidents.jsonl") as incidents,
    ):
        fps = args.fps or getattr(source, "native_fps", None) or 10.0
        tracker = ByteTracker(TrackerConfig(frame_rate=fps))
        # The tracker's second stage needs low-confidence boxes; the rules filter them later.
        filt = config.detection
        floor = min([filt.min_confidence, *filt.class_min_confidence.values()])
        detector = load_detector(args.model, conf=min(floor, tracker.config.low_thresh))
        summary = watch(
            source,
            detector,
            engine,
            incidents,
            tracker=tracker,
            locate=Locator(track, source, config),
        )
    if track is not None and summary.located_frames == 0:
        log.warning(
            "GPS track %s gave no position for any frame; incidents have no location", args.gps
        )
    print(
        f"{summary.frames} frames ({summary.failed_frames} failed), {summary.incidents} incidents "
        f"→ {out / 'incidents.jsonl'}"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "watch", help="watch a source and write six-standards incidents with evidence"
    )
    p.add_argument("source", help="image, folder of photos, video file or rtsp/http URL")
    p.add_argument("--config", type=Path, required=True, help="rules config (YAML or JSON)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--model", type=Path, help="ONNX model (default: the released model)")
    p.add_argument("--fps", type=float, help="sample videos and streams at this many frames/s")
    p.add_argument("--gps", type=Path, help="GPS track of a dashcam video (GPX, NMEA or SRT)")
    p.add_argument("--source-id", help="which source of the config (default: its only one)")
    p.set_defaults(func=run_watch)
