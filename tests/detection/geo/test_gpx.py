from datetime import UTC, datetime

import pytest

from detection.errors import InputError
from detection.geo import parse_gpx

GPX_10 = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.0" creator="logger" xmlns="http://www.topografix.com/GPX/1/0">
  <trk><trkseg>
    <trkpt lat="36.0671" lon="120.3826"><ele>12.5</ele><time>2026-11-26T00:15:02Z</time>
      <course>87.5</course><speed>8.3</speed></trkpt>
    <trkpt lat="36.0672" lon="120.3836"><time>2026-11-26T08:15:03+08:00</time></trkpt>
  </trkseg></trk>
</gpx>
"""

GPX_11 = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="phone" xmlns="http://www.topografix.com/GPX/1/1"
     xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v2">
  <metadata><time>2026-11-26T00:00:00Z</time></metadata>
  <wpt lat="1.0" lon="1.0"><time>2026-11-26T00:00:00Z</time></wpt>
  <trk><trkseg>
    <trkpt lat="36.0672" lon="120.3836"><time>2026-11-26T00:15:03.500Z</time></trkpt>
    <trkpt lat="36.0671" lon="120.3826"><time>2026-11-26T00:15:02Z</time>
      <extensions><gpxtpx:TrackPointExtension>
        <gpxtpx:speed>8.3</gpxtpx:speed><gpxtpx:course>87.5</gpxtpx:course>
      </gpxtpx:TrackPointExtension></extensions></trkpt>
    <trkpt lat="36.0673" lon="120.3846"></trkpt>
    <trkpt lat="96.0" lon="120.3846"><time>2026-11-26T00:15:04Z</time></trkpt>
    <trkpt lon="120.3846"><time>2026-11-26T00:15:04Z</time></trkpt>
    <trkpt lat="36.0673" lon="120.3846"><time>yesterday</time></trkpt>
  </trkseg></trk>
</gpx>
"""


@pytest.mark.parametrize("text", [GPX_10, GPX_11])
def test_gpx_versions(text: str) -> None:
    track = parse_gpx(text.encode(), "ride.gpx")
    assert track.kind == "gpx"
    assert len(track) == 2
    first, second = track.fixes
    assert (first.lat, first.lon) == (36.0671, 120.3826)
    assert first.time == datetime(2026, 11, 26, 0, 15, 2, tzinfo=UTC)
    assert (first.heading, first.speed) == (87.5, 8.3)
    assert second.time is not None and second.time > first.time
    assert (second.heading, second.speed) == (None, None)


def test_gpx_10_elevation_and_offset_times() -> None:
    track = parse_gpx(GPX_10)
    assert track.fixes[0].altitude == 12.5
    assert track.fixes[1].time == datetime(2026, 11, 26, 0, 15, 3, tzinfo=UTC)


def test_bad_points_are_skipped_and_counted() -> None:
    track = parse_gpx(GPX_11)
    assert track.skipped == {"no time": 1, "bad position": 2, "bad time": 1}


def test_naive_gpx_times_are_utc() -> None:
    text = '<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>2026-11-26T00:15:02</time></trkpt>'
    track = parse_gpx(text + "</trkseg></trk></gpx>")
    assert track.fixes[0].time == datetime(2026, 11, 26, 0, 15, 2, tzinfo=UTC)


BOMB = """<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<gpx><trk><name>&b;</name></trk></gpx>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]><gpx><trk><name>&x;</name></trk></gpx>"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BOMB, r"GPX file bad\.gpx refused: DTDForbidden"),
        (EXTERNAL, r"GPX file bad\.gpx refused: DTDForbidden"),
        ("<gpx><trk>", r"bad\.gpx is not well-formed XML"),
        ("<kml><Document/></kml>", r"bad\.gpx: root element is <kml>, not <gpx>"),
    ],
)
def test_unsafe_or_malformed_xml_is_refused(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_gpx(text, "bad.gpx")
