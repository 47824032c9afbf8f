"""Load a GPS track file of any supported format, chosen by its content (not its extension).

``load_track`` raises ``InputError`` for files that cannot be read as a track at all (missing,
unreadable, empty, not GPX/NMEA/SRT, malformed or unsafe XML). A readable track may still have
no usable fixes or miss the video: ``load_track_or_warn`` turns all of that into one warning
naming the file and returns None, so a video without GPS is still processed, without locations.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

from detection.errors import InputError
from detection.geo.gpx import parse_gpx
from detection.geo.nmea import looks_like_nmea, parse_nmea
from detection.geo.srt import looks_like_srt, parse_srt
from detection.geo.track import GpsTrack, TrackConfig

log = logging.getLogger(__name__)

_SNIFF_CHARS = 4096


def load_track(
    path: str | Path,
    *,
    tz: tzinfo = UTC,
    log_date: date | None = None,
    config: TrackConfig | None = None,
) -> GpsTrack:
    """Parse a GPX, NMEA or SRT track; ``tz`` is the zone of naive SRT clocks, ``log_date``
    the UTC date of GGA-only NMEA logs."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"GPS track {path}: cannot read it ({exc.strerror or exc})") from exc
    text = data.decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise InputError(f"GPS track {path} is empty")
    head = text.lstrip()[:_SNIFF_CHARS]
    if head.startswith("<") and "<gpx" in head.lower():
        return parse_gpx(data, str(path), config)
    if looks_like_srt(text):
        return parse_srt(text, str(path), tz=tz, config=config)
    if looks_like_nmea(text):
        return parse_nmea(text, str(path), log_date=log_date, config=config)
    raise InputError(
        f"GPS track {path}: not a GPX, NMEA 0183 (RMC/GGA) or SRT subtitle track "
        f"(extension {path.suffix or 'none'} is not used to decide)"
    )


def load_track_or_warn(
    path: str | Path,
    *,
    video_start: datetime | None = None,
    video_duration_s: float | None = None,
    tz: tzinfo = UTC,
    log_date: date | None = None,
    config: TrackConfig | None = None,
) -> GpsTrack | None:
    """The track, or None with a warning when it is unusable or (given the video's duration)
    covers none of the video. ``video_start`` None means guessed from the track."""
    try:
        track = load_track(path, tz=tz, log_date=log_date, config=config)
    except InputError as exc:
        log.warning("%s; locations will be None", exc)
        return None
    if track.skipped:
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(track.skipped.items()))
        log.warning("GPS track %s: skipped records (%s)", path, counts)
    if not len(track):
        log.warning("GPS track %s has no usable fixes; locations will be None", path)
        return None
    if video_duration_s is not None:
        covered = track.overlap_s(video_start, video_duration_s)
        if covered <= 0.0:
            log.warning(
                "GPS track %s (%s) does not overlap the video (%s); locations will be None",
                path,
                _span(track),
                _video_span(track, video_start, video_duration_s),
            )
            return None
        if covered < video_duration_s:
            log.info(
                "GPS track %s covers %.0f of the video's %.0f s", path, covered, video_duration_s
            )
    return track


def _span(track: GpsTrack) -> str:
    if track.start is not None and track.end is not None:
        return f"{track.start.isoformat()} to {track.end.isoformat()}"
    first, last = track.fixes[0].offset, track.fixes[-1].offset
    return f"video offsets {first:.1f} to {last:.1f} s"


def _video_span(track: GpsTrack, start: datetime | None, duration_s: float) -> str:
    if track.has_offsets or start is None:
        return f"0 to {duration_s:.1f} s"
    return f"{start.isoformat()} to {(start + timedelta(seconds=duration_s)).isoformat()}"
