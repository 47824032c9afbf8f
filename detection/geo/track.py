"""A GPS track (time-sorted fixes) and where the camera was at a given time or video position.

Fixes carry an absolute UTC ``time`` (GPX, NMEA, dashcam SRT text with a clock), a video-relative
``offset`` in seconds (SRT subtitle timing), or both. Positions between fixes are interpolated
linearly in lat/lon, which is accurate to centimetres over the few metres a car moves between
1-10 Hz fixes; gaps longer than ``TrackConfig.max_gap_s`` are not bridged.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

from detection.core import GeoPoint

EARTH_RADIUS_M = 6_371_008.8
KNOT_MS = 1852.0 / 3600.0
KMH_MS = 1.0 / 3.6
MPH_MS = 1609.344 / 3600.0


class TrackConfig(BaseModel):
    """How far a track may be stretched: edge tolerance, longest bridged gap, heading threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_gap_s: float = Field(
        10.0,
        gt=0.0,
        le=3600.0,
        description="Longest gap between two fixes that is interpolated; inside longer gaps "
        "(tunnels, logger pauses) positions are unknown.",
    )
    edge_tolerance_s: float = Field(
        2.0,
        ge=0.0,
        le=600.0,
        description="How far before the first / after the last fix (or beside a fix next to a "
        "long gap) that fix's position is still used.",
    )
    min_heading_move_m: float = Field(
        2.0,
        ge=0.0,
        le=1000.0,
        description="Fixes closer than this are too close to derive a heading from (a stopped "
        "car's GPS jitter points anywhere).",
    )


@dataclass(frozen=True)
class GpsFix:
    """One position report: UTC ``time`` and/or video ``offset`` (seconds), speed in m/s."""

    lat: float
    lon: float
    time: datetime | None = None
    offset: float | None = None
    heading: float | None = None
    speed: float | None = None
    altitude: float | None = None

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"GpsFix out of range: lat={self.lat}, lon={self.lon}")
        if self.time is None and self.offset is None:
            raise ValueError("GpsFix needs a time or a video offset")
        if self.time is not None:
            if self.time.tzinfo is None:
                raise ValueError("GpsFix.time must be timezone-aware")
            object.__setattr__(self, "time", self.time.astimezone(UTC))
        if self.heading is not None:
            object.__setattr__(self, "heading", normalize_heading(self.heading))
        if self.speed is not None and self.speed < 0:
            raise ValueError(f"GpsFix.speed must be >= 0, got {self.speed}")

    @property
    def point(self) -> GeoPoint:
        return GeoPoint(self.lat, self.lon, self.heading)


class _Series:
    """Fixes sorted by one clock (absolute seconds or video offset), for bisecting."""

    def __init__(self, keyed: Iterable[tuple[float, GpsFix]]) -> None:
        pairs: dict[float, GpsFix] = {}
        for key, fix in sorted(keyed, key=lambda kf: kf[0]):
            pairs.setdefault(key, fix)  # duplicate timestamps: keep the first report
        self.keys = list(pairs)
        self.fixes = list(pairs.values())


class GpsTrack:
    """Time-sorted fixes from one file; ``skipped`` counts unusable records by reason."""

    def __init__(
        self,
        fixes: Iterable[GpsFix],
        *,
        source: str = "<track>",
        kind: str = "fixes",
        skipped: Mapping[str, int] | None = None,
        config: TrackConfig | None = None,
    ) -> None:
        fixes = list(fixes)
        self.source = source
        self.kind = kind
        self.skipped = dict(skipped or {})
        self.config = config or TrackConfig()
        self.has_times = bool(fixes) and all(f.time is not None for f in fixes)
        self.has_offsets = bool(fixes) and all(f.offset is not None for f in fixes)
        if fixes and not (self.has_times or self.has_offsets):
            raise ValueError(f"GPS track {source}: fixes must all have times or all have offsets")
        self._abs = _Series((_ts(f.time), f) for f in fixes if f.time) if self.has_times else None
        self._rel = _Series((f.offset, f) for f in fixes if f.offset is not None)
        # The video timeline is finer than many dashcam clocks (whole seconds), so it sorts first.
        primary = self._rel if self.has_offsets or self._abs is None else self._abs
        self.fixes: tuple[GpsFix, ...] = tuple(primary.fixes)

    def __len__(self) -> int:
        return len(self.fixes)

    def __repr__(self) -> str:
        return f"GpsTrack({self.source!r}, kind={self.kind}, fixes={len(self)})"

    @property
    def start(self) -> datetime | None:
        return self._abs.fixes[0].time if self._abs is not None else None

    @property
    def end(self) -> datetime | None:
        return self._abs.fixes[-1].time if self._abs is not None else None

    def at(self, t: datetime) -> GeoPoint | None:
        """Position at absolute time ``t``; None outside the track or inside a long gap."""
        if t.tzinfo is None:
            raise ValueError(f"GpsTrack.at needs a timezone-aware time, got {t.isoformat()}")
        if not self.fixes:
            return None
        if self._abs is None:
            raise ValueError(
                f"GPS track {self.source} has only video-relative times; use align() or at_offset()"
            )
        return _interpolate(self._abs, _ts(t), self.config)

    def at_offset(self, seconds: float) -> GeoPoint | None:
        """Position ``seconds`` into the video (SRT tracks), None where unknown."""
        if not self.fixes:
            return None
        if not self.has_offsets:
            raise ValueError(f"GPS track {self.source} has no video offsets; use at() or align()")
        return _interpolate(self._rel, seconds, self.config)

    @cached_property
    def guessed_video_start(self) -> datetime | None:
        """See :func:`guess_video_start`."""
        if self.has_times and self.has_offsets:
            shifts = [_ts(f.time) - f.offset for f in self.fixes if f.time and f.offset is not None]
            return datetime.fromtimestamp(statistics.median(shifts), UTC)
        return self.start

    def overlap_s(self, video_start: datetime | None, duration_s: float) -> float:
        """Seconds of a video of ``duration_s`` that this track covers (edge tolerance included)."""
        tol = self.config.edge_tolerance_s
        if self.has_offsets and self._rel.keys:
            lo, hi = self._rel.keys[0] - tol, self._rel.keys[-1] + tol
            return max(0.0, min(hi, duration_s) - max(lo, 0.0))
        start = video_start or self.guessed_video_start
        if self._abs is None or start is None:
            return 0.0
        v0 = _ts(start)
        lo, hi = self._abs.keys[0] - tol, self._abs.keys[-1] + tol
        return max(0.0, min(hi, v0 + duration_s) - max(lo, v0))


def guess_video_start(track: GpsTrack) -> datetime | None:
    """Best guess of when the video's first frame was taken, from the track alone.

    Tracks with both clocks (SRT with a camera clock) give it directly: the median of time - offset.
    Absolute-only tracks (GPX/NMEA logged by the dashcam with its video) are assumed to start with
    the video, so the first fix time is returned. Relative-only tracks need no start: None.
    """
    return track.guessed_video_start


def align(track: GpsTrack | None, video_start: datetime | None, pts: float) -> GeoPoint | None:
    """Where the frame at ``pts`` seconds into a video was taken (None where unknown).

    Video-relative tracks (SRT) are looked up by ``pts`` directly; absolute tracks at
    ``video_start + pts``, guessing the start from the track when ``video_start`` is None.
    """
    if track is None or not len(track):
        return None
    if track.has_offsets:
        return track.at_offset(pts)
    start = video_start or track.guessed_video_start
    if start is None:
        return None
    return track.at(start + timedelta(seconds=pts))


def _interpolate(series: _Series, key: float, cfg: TrackConfig) -> GeoPoint | None:
    keys, fixes = series.keys, series.fixes
    if not keys or key < keys[0] - cfg.edge_tolerance_s or key > keys[-1] + cfg.edge_tolerance_s:
        return None
    i = bisect_right(keys, key) - 1
    if i < 0:
        return _point_at_fix(series, 0, cfg)
    if i == len(keys) - 1 or keys[i] == key:
        return _point_at_fix(series, i, cfg)
    gap = keys[i + 1] - keys[i]
    if gap > cfg.max_gap_s:
        nearest = i if key - keys[i] <= keys[i + 1] - key else i + 1
        if abs(key - keys[nearest]) > cfg.edge_tolerance_s:
            return None
        return _point_at_fix(series, nearest, cfg)
    return _between(fixes[i], fixes[i + 1], (key - keys[i]) / gap, cfg)


def _point_at_fix(series: _Series, i: int, cfg: TrackConfig) -> GeoPoint:
    """A fix's own position; without a reported heading, the bearing to (or from) a neighbour
    that is not across a long gap."""
    keys, fixes = series.keys, series.fixes
    fix = fixes[i]
    if fix.heading is not None:
        return fix.point
    heading = None
    if i + 1 < len(keys) and keys[i + 1] - keys[i] <= cfg.max_gap_s:
        heading = _movement_heading(fix, fixes[i + 1], cfg)
    elif i > 0 and keys[i] - keys[i - 1] <= cfg.max_gap_s:
        heading = _movement_heading(fixes[i - 1], fix, cfg)
    return GeoPoint(fix.lat, fix.lon, heading)


def _between(a: GpsFix, b: GpsFix, f: float, cfg: TrackConfig) -> GeoPoint:
    dlon = b.lon - a.lon
    if dlon > 180.0:  # crossing the antimeridian: go the short way round
        dlon -= 360.0
    elif dlon < -180.0:
        dlon += 360.0
    lon = (a.lon + f * dlon + 180.0) % 360.0 - 180.0
    if a.heading is not None and b.heading is not None:
        turn = (b.heading - a.heading + 180.0) % 360.0 - 180.0
        heading: float | None = normalize_heading(a.heading + f * turn)
    else:
        heading = _movement_heading(a, b, cfg)
    return GeoPoint(a.lat + f * (b.lat - a.lat), lon, heading)


def _movement_heading(a: GpsFix, b: GpsFix, cfg: TrackConfig) -> float | None:
    if haversine_m(a.lat, a.lon, b.lat, b.lon) < max(cfg.min_heading_move_m, 1e-6):
        return None
    return bearing_deg(a.lat, a.lon, b.lat, b.lon)


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees clockwise from north."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return normalize_heading(math.degrees(math.atan2(y, x)))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def normalize_heading(deg: float) -> float:
    """Map any angle into [0, 360) (``-1e-17 % 360`` is 360.0 in floating point)."""
    h = deg % 360.0
    return 0.0 if h >= 360.0 else h


def _ts(t: datetime) -> float:
    return t.timestamp()
