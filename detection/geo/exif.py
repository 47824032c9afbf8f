"""Location, heading and capture time from a photo's EXIF (GPS IFD 0x8825).

Patrol photos come from many phones; any of the tags can be missing or garbled, so this never
raises: what cannot be read is None, with a warning naming the file.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from detection.core import GeoPoint
from detection.geo.track import normalize_heading

log = logging.getLogger(__name__)

GPS = ExifTags.GPS
BASE = ExifTags.Base


@dataclass(frozen=True)
class PhotoGps:
    """Where (``point``, heading = camera direction) and when (UTC ``time``) a photo was taken."""

    point: GeoPoint | None
    time: datetime | None
    altitude: float | None = None


def read_exif_gps(path: str | Path, *, tz: tzinfo = UTC) -> PhotoGps:
    """Read a photo's EXIF position and capture time; missing parts are None, with a warning.

    The capture time is DateTimeOriginal, in its OffsetTimeOriginal zone when present, else in
    ``tz`` (the camera clock's zone); without it, the GPS date/time stamp (UTC) is used.
    GPSImgDirection is returned as the heading whether its reference is true or magnetic north.
    """
    try:
        with Image.open(path) as im:
            exif = im.getexif()
    except (OSError, UnidentifiedImageError) as exc:
        log.warning("Photo %s: cannot read it (%s); location unknown", path, exc)
        return PhotoGps(None, None)
    if not exif:
        log.warning("Photo %s has no EXIF data; location and capture time unknown", path)
        return PhotoGps(None, None)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    when = _capture_time(exif, gps, tz)
    point, problem = _point(gps)
    if point is None:
        log.warning("Photo %s: %s; location unknown", path, problem)
    return PhotoGps(point, when, _altitude(gps) if point else None)


def _point(gps: Mapping[int, Any]) -> tuple[GeoPoint | None, str]:
    if not gps:
        return None, "no GPS tags in EXIF"
    lat = _dms(gps.get(GPS.GPSLatitude), gps.get(GPS.GPSLatitudeRef), "S")
    lon = _dms(gps.get(GPS.GPSLongitude), gps.get(GPS.GPSLongitudeRef), "W")
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None, "GPS latitude/longitude missing or invalid"
    if lat == 0.0 and lon == 0.0:
        return None, "GPS position is 0,0 (no fix)"
    direction = _float(gps.get(GPS.GPSImgDirection))
    heading = None if direction is None else normalize_heading(direction)
    return GeoPoint(lat, lon, heading), ""


def _dms(value: Any, ref: Any, negative_ref: str) -> float | None:
    """Degrees, minutes, seconds rationals (1 to 3 of them) to signed decimal degrees."""
    parts = value if isinstance(value, tuple | list) else (value,)
    nums = [_float(p) for p in parts[:3]]
    if not nums or any(n is None or n < 0 for n in nums):
        return None
    degrees = sum(n / 60.0**i for i, n in enumerate(nums) if n is not None)
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    sign = -1.0 if str(ref).strip().upper() == negative_ref else 1.0
    return sign * degrees


def _altitude(gps: Mapping[int, Any]) -> float | None:
    alt = _float(gps.get(GPS.GPSAltitude))
    below_sea = gps.get(GPS.GPSAltitudeRef) in (1, b"\x01")
    return None if alt is None else (-alt if below_sea else alt)


def _capture_time(exif: Image.Exif, gps: Mapping[int, Any], tz: tzinfo) -> datetime | None:
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    original = _exif_datetime(sub.get(BASE.DateTimeOriginal), sub.get(BASE.OffsetTimeOriginal), tz)
    return original or _gps_datetime(gps)


def _exif_datetime(text: Any, offset: Any, tz: tzinfo) -> datetime | None:
    """``YYYY:MM:DD HH:MM:SS`` with an optional ``+08:00`` offset tag."""
    try:
        local = datetime.strptime(str(text).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone = _offset(offset) or tz
    return local.replace(tzinfo=zone).astimezone(UTC)


def _offset(text: Any) -> tzinfo | None:
    if not isinstance(text, str) or len(text.strip()) != 6:
        return None
    try:
        sign = -1 if text[0] == "-" else 1
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _gps_datetime(gps: Mapping[int, Any]) -> datetime | None:
    """GPSDateStamp ``YYYY:MM:DD`` + GPSTimeStamp (h, m, s rationals), both UTC."""
    stamp, hms = gps.get(GPS.GPSDateStamp), gps.get(GPS.GPSTimeStamp)
    if not isinstance(stamp, str) or not isinstance(hms, tuple) or len(hms) != 3:
        return None
    h, m, s = (_float(v) for v in hms)
    try:
        day = datetime.strptime(stamp.strip("\x00 "), "%Y:%m:%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    if h is None or m is None or s is None:
        return None
    return day + timedelta(hours=h, minutes=m, seconds=s)


def _float(value: Any) -> float | None:
    """A rational/number as float; None for missing, NaN (x/0) or non-numeric values."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
