"""GPX 1.0 / 1.1 track parser (``trkpt`` with ``time``; optional ``ele``, ``course``, ``speed``).

Files come from phones and loggers we do not control, so XML is parsed with ``defusedxml``:
DTDs, entities and external references are refused rather than expanded.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from detection.errors import InputError
from detection.geo.track import GpsFix, GpsTrack, TrackConfig

# GPX 1.0 has <course>/<speed> in <trkpt>; 1.1 puts them in <extensions> (e.g. Garmin's
# TrackPointExtension <gpxtpx:course>/<gpxtpx:speed>), so they are found by local name anywhere.
_HEADING_TAGS = ("course", "heading", "bearing")


def parse_gpx(
    data: str | bytes, source: str = "<gpx>", config: TrackConfig | None = None
) -> GpsTrack:
    """Parse GPX text; raises ``InputError`` naming ``source`` for malformed or unsafe XML."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InputError(f"GPX file {source} refused: {type(exc).__name__} ({exc})") from exc
    except ParseError as exc:
        raise InputError(f"GPX file {source} is not well-formed XML: {exc}") from exc
    if _local(root.tag) != "gpx":
        raise InputError(f"GPX file {source}: root element is <{_local(root.tag)}>, not <gpx>")
    fixes: list[GpsFix] = []
    skipped: Counter[str] = Counter()
    for el in root.iter():
        if _local(el.tag) != "trkpt":
            continue
        fix, reason = _trkpt(el)
        if fix is None:
            skipped[reason] += 1
        else:
            fixes.append(fix)
    return GpsTrack(fixes, source=source, kind="gpx", skipped=skipped, config=config)


def _trkpt(el: Element) -> tuple[GpsFix | None, str]:
    try:
        lat, lon = float(el.attrib["lat"]), float(el.attrib["lon"])
    except (KeyError, ValueError):
        return None, "bad position"
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return None, "bad position"
    text = _child_texts(el)
    if "time" not in text:
        return None, "no time"
    try:
        time = parse_iso_time(text["time"])
    except ValueError:
        return None, "bad time"
    heading = next((text[t] for t in _HEADING_TAGS if t in text), None)
    return GpsFix(
        lat,
        lon,
        time=time,
        heading=_number(heading),
        speed=_number(text.get("speed"), minimum=0.0),
        altitude=_number(text.get("ele")),
    ), ""


def parse_iso_time(text: str) -> datetime:
    """ISO 8601 time as tz-aware UTC; GPX times without an offset are UTC by the standard."""
    t = datetime.fromisoformat(text.strip())
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _child_texts(el: Element) -> dict[str, str]:
    """Local name -> text of every descendant (first occurrence wins)."""
    out: dict[str, str] = {}
    for child in el.iter():
        if child is not el and child.text and child.text.strip():
            out.setdefault(_local(child.tag), child.text.strip())
    return out


def _number(text: str | None, minimum: float = -math.inf) -> float | None:
    """Optional numeric field: missing, garbled or out-of-range values become None."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= minimum else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
