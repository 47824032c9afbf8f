"""NMEA 0183 log parser: RMC (date, time, position, speed, course) and GGA (time, fix, altitude).

Any talker is accepted (GP, GN, GL, GA, BD, ...). Every sentence's checksum is verified; sentences
with a bad or missing checksum, and those reporting no fix (RMC status V, GGA quality 0), are
skipped and counted. GGA carries no date: it takes the date of the latest RMC (or ``date`` for
GGA-only logs), rolling over at midnight. An RMC and a GGA for the same second merge into one fix.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from detection.geo.track import KNOT_MS, GpsFix, GpsTrack, TrackConfig

_SENTENCE = re.compile(
    r"\$(?P<body>[A-Z]{2}(?P<type>[A-Z]{3}),[^*$]*)(?:\*(?P<sum>[0-9A-Fa-f]{2}))?"
)
_HALF_DAY = 12 * 3600.0


def nmea_checksum(body: str) -> str:
    """XOR of the characters between ``$`` and ``*``, as two upper-case hex digits."""
    value = 0
    for ch in body:
        value ^= ord(ch)
    return f"{value:02X}"


def parse_nmea(
    text: str,
    source: str = "<nmea>",
    *,
    log_date: date | None = None,
    config: TrackConfig | None = None,
) -> GpsTrack:
    """Parse an NMEA log (one sentence a line; logger prefixes before ``$`` are ignored).

    ``log_date`` (UTC) dates GGA sentences in logs that have no RMC sentence at all.
    """
    state = _State(log_date)
    for line in text.splitlines():
        state.feed(line)
    state.finish()
    return GpsTrack(
        state.fixes.values(), source=source, kind="nmea", skipped=state.skipped, config=config
    )


class _Gga(NamedTuple):
    tod: time
    lat: float
    lon: float
    altitude: float | None


class _State:
    """Running date for GGA sentences plus the fixes gathered so far, keyed by UTC time."""

    def __init__(self, start_date: date | None) -> None:
        self.day = start_date
        self.last_tod: time | None = None
        self.fixes: dict[datetime, GpsFix] = {}
        self.undated: list[_Gga] = []
        self.skipped: Counter[str] = Counter()

    def feed(self, line: str) -> None:
        m = _SENTENCE.search(line)
        if m is None or m["type"] not in ("RMC", "GGA"):
            if line.strip() and m is None:
                self.skipped["not NMEA"] += 1
            return
        if m["sum"] is None or m["sum"].upper() != nmea_checksum(m["body"]):
            self.skipped["bad checksum"] += 1
            return
        fields = m["body"].split(",")
        try:
            if m["type"] == "RMC":
                self._rmc(fields)
            else:
                self._gga(fields)
        except (ValueError, IndexError):
            self.skipped["malformed"] += 1

    def _rmc(self, f: list[str]) -> None:
        if f[2] != "A":
            self.skipped["no fix"] += 1
            return
        tod, day = _tod(f[1]), datetime.strptime(f[9], "%d%m%y").date()
        lat, lon = _coord(f[3], f[4], 2), _coord(f[5], f[6], 3)
        knots, heading = _opt(f[7]), _opt(f[8])
        speed = None if knots is None else knots * KNOT_MS
        self.day, self.last_tod = day, tod
        self._flush_before(day, tod)
        when = datetime.combine(day, tod, UTC)
        old = self.fixes.get(when)
        altitude = old.altitude if old else None
        self.fixes[when] = GpsFix(lat, lon, when, heading=heading, speed=speed, altitude=altitude)

    def _gga(self, f: list[str]) -> None:
        if not f[6] or f[6] == "0":
            self.skipped["no fix"] += 1
            return
        gga = _Gga(_tod(f[1]), _coord(f[2], f[3], 2), _coord(f[4], f[5], 3), _opt(f[9]))
        if self.day is None:
            self.undated.append(gga)
            return
        if self.last_tod is not None and _seconds(gga.tod) < _seconds(self.last_tod) - _HALF_DAY:
            self.day += timedelta(days=1)  # the clock wrapped past midnight
        self.last_tod = gga.tod
        self._put_gga(self.day, gga)

    def _put_gga(self, day: date, gga: _Gga) -> None:
        when = datetime.combine(day, gga.tod, UTC)
        old = self.fixes.get(when)
        if old is not None:  # the RMC for this second already gave position, speed and course
            self.fixes[when] = replace(old, altitude=gga.altitude)
        else:
            self.fixes[when] = GpsFix(gga.lat, gga.lon, when, altitude=gga.altitude)

    def _flush_before(self, day: date, rmc_tod: time) -> None:
        """Date the GGA sentences seen before the first RMC (the day before, if past midnight)."""
        for gga in self.undated:
            wrapped = _seconds(gga.tod) > _seconds(rmc_tod) + _HALF_DAY
            self._put_gga(day - timedelta(days=1) if wrapped else day, gga)
        self.undated = []

    def finish(self) -> None:
        """GGA sentences that never got a date are dropped and counted."""
        if self.undated:
            self.skipped["no date"] += len(self.undated)
        self.undated = []


def _tod(text: str) -> time:
    """``hhmmss`` or ``hhmmss.sss`` (UTC time of day)."""
    frac = text[6:]
    if not text[:6].isdigit() or (frac and not re.fullmatch(r"\.\d*", frac)):
        raise ValueError(f"bad NMEA time {text!r}")
    micro = min(round(float("0" + frac) * 1e6), 999_999) if frac else 0
    return time(int(text[0:2]), int(text[2:4]), int(text[4:6]), micro)


def _coord(value: str, hemi: str, deg_digits: int) -> float:
    """``ddmm.mmmm`` / ``dddmm.mmmm`` with an N/S/E/W hemisphere, to signed decimal degrees."""
    if hemi not in ("N", "S", "E", "W") or len(value.split(".")[0]) != deg_digits + 2:
        raise ValueError(f"bad NMEA coordinate {value!r} {hemi!r}")
    degrees, minutes = int(value[:deg_digits]), float(value[deg_digits:])
    limit = 90 if deg_digits == 2 else 180
    if minutes >= 60.0 or degrees + minutes / 60.0 > limit:
        raise ValueError(f"bad NMEA coordinate {value!r}")
    sign = -1.0 if hemi in ("S", "W") else 1.0
    return sign * (degrees + minutes / 60.0)


def _opt(text: str) -> float | None:
    """An optional numeric field (empty means absent; garbage raises ValueError)."""
    return float(text) if text else None


def _seconds(t: time) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def looks_like_nmea(text: str) -> bool:
    """True when ``text`` holds at least one RMC or GGA sentence (whatever its checksum)."""
    return any(
        (m := _SENTENCE.search(line)) is not None and m["type"] in ("RMC", "GGA")
        for line in text.splitlines()
    )
