"""Dashcam / drone SRT subtitle tracks: one position per subtitle, timed relative to the video.

Each fix's ``offset`` is its subtitle's start time. Recognised position forms (first match wins):

* keyword: ``[latitude: 36.0671] [longitude: 120.3826]`` (DJI; also ``longtitude``, DJI's
  spelling on some firmware), ``lat: 36.0671 lon: 120.3826``, ``Lat=.. Lng=..``;
* DJI legacy ``GPS(120.3826,36.0671,19)``: longitude first, altitude optional (``HOME(..)`` is
  the take-off point and ignored);
* hemisphere prefix ``N36.0671 E120.3826``, ``N:36.0671, E:120.3826`` (Novatek/Viofo dashcams);
* hemisphere suffix ``36.0671N 120.3826E``, ``36.0671°N, 120.3826°E``.

Decimal degrees only (degree-minute-second text is not recognised). An optional clock
``2026-11-26 08:15:02[.123]`` (``-``, ``/`` or ``.`` between date parts) gives absolute times in
``tz``, the camera clock's zone; a speed ``45 km/h`` / ``kmh`` / ``kph`` / ``mph`` and a
``heading: 87`` / ``course 87`` are read when present. ``0.0, 0.0`` means no fix and is skipped.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, tzinfo

from detection.geo.track import KMH_MS, MPH_MS, GpsFix, GpsTrack, TrackConfig

_NUM = r"([-+]?\d{1,3}(?:\.\d+)?)"
_TIMING = re.compile(
    r"^\s*(\d{1,2}):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}"
)
_TAG = re.compile(r"<[^>]*>")
_KEYWORD_LAT = re.compile(r"\b(?:lat|latitude)\s*[:=]\s*" + _NUM, re.IGNORECASE)
_KEYWORD_LON = re.compile(
    r"\b(?:lon|lng|long|longitude|longtitude)\s*[:=]\s*" + _NUM, re.IGNORECASE
)
_DJI_GPS = re.compile(r"\bGPS\s*\(\s*" + _NUM + r"\s*,\s*" + _NUM + r"\s*[,)]")
_PREFIX = re.compile(r"\b([NS])\s*:?\s*(\d{1,2}\.\d+)\b[\s,;]*([EW])\s*:?\s*(\d{1,3}\.\d+)\b")
_SUFFIX = re.compile(r"\b(\d{1,2}\.\d+)\s*°?\s*([NS])\b[\s,;]*(\d{1,3}\.\d+)\s*°?\s*([EW])\b")
_CLOCK = re.compile(
    r"\b(\d{4})[-/.](\d{2})[-/.](\d{2})[ T]+(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?"
)
_SPEED = re.compile(r"(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph)\b", re.IGNORECASE)
_HEADING = re.compile(r"\b(?:heading|course|bearing)\s*[:=]?\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


def parse_srt(
    text: str, source: str = "<srt>", *, tz: tzinfo = UTC, config: TrackConfig | None = None
) -> GpsTrack:
    """Parse SRT text. Absolute times are kept only when every fix has a clock."""
    fixes: list[GpsFix] = []
    skipped: Counter[str] = Counter()
    for offset, body in _blocks(text):
        fix, reason = _fix(offset, body, tz)
        if fix is None:
            skipped[reason] += 1
        else:
            fixes.append(fix)
    if any(f.time is None for f in fixes):
        fixes = [replace(f, time=None) for f in fixes]
    return GpsTrack(fixes, source=source, kind="srt", skipped=skipped, config=config)


def looks_like_srt(text: str) -> bool:
    """True when ``text`` has at least one SRT timing line."""
    return any(_TIMING.match(line) for line in text.splitlines())


def _blocks(text: str) -> list[tuple[float, str]]:
    """(start seconds, text with tags removed) per subtitle; cue-number lines are dropped."""
    out: list[tuple[float, list[str]]] = []
    for line in text.lstrip("\ufeff").splitlines():
        m = _TIMING.match(line)
        if m:
            h, mi, s, ms = m.groups()
            out.append((int(h) * 3600 + int(mi) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000, []))
        elif out and line.strip() and not line.strip().isdigit():
            out[-1][1].append(_TAG.sub(" ", line))
    return [(offset, " ".join(lines)) for offset, lines in out]


def _fix(offset: float, body: str, tz: tzinfo) -> tuple[GpsFix | None, str]:
    pos = _position(body)
    if pos is None:
        return None, "no position"
    lat, lon = pos
    if lat == 0.0 and lon == 0.0:
        return None, "no fix"
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None, "bad position"
    heading = _HEADING.search(body)
    return GpsFix(
        lat,
        lon,
        time=_clock(body, tz),
        offset=offset,
        heading=float(heading[1]) if heading else None,
        speed=_speed(body),
    ), ""


def _position(body: str) -> tuple[float, float] | None:
    lat, lon = _KEYWORD_LAT.search(body), _KEYWORD_LON.search(body)
    if lat and lon:
        return float(lat[1]), float(lon[1])
    if m := _DJI_GPS.search(body):
        return float(m[2]), float(m[1])
    if m := _PREFIX.search(body):
        return _signed(m[2], m[1]), _signed(m[4], m[3])
    if m := _SUFFIX.search(body):
        return _signed(m[1], m[2]), _signed(m[3], m[4])
    return None


def _signed(value: str, hemisphere: str) -> float:
    return -float(value) if hemisphere in ("S", "W") else float(value)


def _clock(body: str, tz: tzinfo) -> datetime | None:
    m = _CLOCK.search(body)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    try:
        local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError:
        return None
    micro = int((frac or "0").ljust(6, "0"))
    return local.replace(microsecond=micro, tzinfo=tz).astimezone(UTC)


def _speed(body: str) -> float | None:
    m = _SPEED.search(body)
    if m is None:
        return None
    return float(m[1]) * (MPH_MS if m[2].lower() == "mph" else KMH_MS)
