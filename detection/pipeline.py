"""The core loop: source → detector → tracker → rules → incidents.

``shirong watch`` and the service (cameras, photo uploads, video jobs) both run it, so a source is
analysed the same way wherever it comes from; only the sink and the locator differ. ``assemble``
builds the detector, tracker and rules engine for one source; ``watch`` runs them to its end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from detection.capture.base import FrameSource
from detection.capture.files import ImageSource
from detection.core import Frame, GeoPoint
from detection.engine import Detector, load_detector
from detection.errors import ShirongError
from detection.evidence import EvidenceStore
from detection.geo import GpsTrack, read_exif_gps
from detection.rules.config import SourceConfig
from detection.rules.engine import RulesEngine
from detection.rules.incident import Incident
from detection.taxonomy import Taxonomy
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
    """Where incidents go as they change: ``IncidentLog`` for the CLI, the service's database."""

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


@dataclass(frozen=True)
class Pipeline:
    """What analyses one source. The tracker and rules engine hold that source's state."""

    detector: Detector
    tracker: ByteTracker
    engine: RulesEngine


def detection_floor(tracker: TrackerConfig, config: SourceConfig | None = None) -> float:
    """The lowest confidence a detector must keep.

    The tracker's second stage needs the weak boxes (its low threshold), and ``config``'s rules
    may ask for weaker ones still; the rules filter by their own thresholds afterwards.
    """
    if config is None:
        return tracker.low_thresh
    filt = config.detection
    return min(filt.min_confidence, *filt.class_min_confidence.values(), tracker.low_thresh)


def assemble(
    config: SourceConfig,
    *,
    fps: float,
    taxonomy: Taxonomy | None = None,
    store: EvidenceStore | None = None,
    detector: Detector | None = None,
    model: Path | None = None,
) -> Pipeline:
    """A fresh tracker and rules engine for a source analysed at ``fps`` frames/s, and a detector.

    ``detector`` is one already loaded (a service worker keeps one for all it analyses); without it
    ``model`` (None: the released model) is loaded at ``detection_floor`` for this source.
    """
    tracker = ByteTracker(TrackerConfig(frame_rate=fps))
    if detector is None:
        detector = load_detector(model, conf=detection_floor(tracker.config, config))
    engine = RulesEngine(config, taxonomy=taxonomy, store=store)
    return Pipeline(detector, tracker, engine)


def watch(
    source: FrameSource,
    pipeline: Pipeline,
    incidents: IncidentSink,
    *,
    locate: Callable[[Frame], Frame] = lambda frame: frame,
    on_frame: Callable[[Frame], None] | None = None,
) -> WatchSummary:
    """Run until the source ends; every incident state goes to ``incidents`` as it changes.

    A bad frame is logged and skipped (a long watch must survive one); only
    ``MAX_CONSECUTIVE_FAILURES`` in a row stop it. Open incidents are closed and recorded however
    the loop ends. ``on_frame`` sees each analysed frame (a service keeps counts, progress and a
    snapshot).
    """
    detector, tracker, engine = pipeline.detector, pipeline.tracker, pipeline.engine
    frames = failed = in_a_row = located = 0
    size: tuple[int, int] | None = None
    try:
        for raw in source:
            frames += 1
            new_size = (raw.meta.width, raw.meta.height)
            if size is not None and new_size != size:
                log.warning("%s changed resolution to %dx%d: tracks restart", source.uri, *new_size)
                tracker.forget()
            size = new_size
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
