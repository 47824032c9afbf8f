from datetime import UTC, datetime, timedelta, timezone

import pytest

from detection.geo import align, guess_video_start, parse_srt

CST = timezone(timedelta(hours=8))  # dashcam clocks in China run on local time


def _srt(*cues: str) -> str:
    """Subtitle blocks one second apart, cue text as given."""
    blocks = [
        f"{i + 1}\n00:00:{i:02d},000 --> 00:00:{i:02d},999\n{text}\n" for i, text in enumerate(cues)
    ]
    return "\n".join(blocks)


DJI = (
    '<font size="28">SrtCnt : 1, DiffTime : 33ms\n2026-11-26 08:15:02.123\n'
    "[iso : 100] [shutter : 1/1000.0] [fnum : 170] [ev : 0] [ct : 5700] [color_md : default] "
    "[focal_len : 240] [latitude: 36.067100] [longitude: 120.382600] "
    "[rel_alt: 1.300 abs_alt: 73.583] </font>"
)
DJI_MINI = (
    "FrameCnt: 1 2026-11-26 08:15:02,123,456\n[latitude : 36.0671] [longtitude : 120.3826] "
    "[altitude: 73.5]"
)
DJI_LEGACY = "HOME(120.3000,36.0000) 2026.11.26 08:15:02\nGPS(120.3826,36.0671,19) BAROMETER:64.2"
DASHCAM = "2026/11/26 08:15:02 N:36.0671 E:120.3826 45km/h"
DASHCAM_SPACED = "VIOFO A129 2026-11-26 08:15:02 N36.0671, E120.3826 45 KM/H"
SUFFIX = "36.0671°N, 120.3826°E 28 mph heading: 87 2026-11-26 08:15:02"
SOUTH_WEST = "S33.8688 W151.2093 2026-11-26 08:15:02"
KEYWORD = "Lat=36.0671 Lng=120.3826 2026-11-26 08:15:02"

T = datetime(2026, 11, 26, 0, 15, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cue", "lat", "lon", "time", "speed", "heading"),
    [
        (DJI, 36.0671, 120.3826, T.replace(microsecond=123000), None, None),
        (DJI_MINI, 36.0671, 120.3826, T.replace(microsecond=123000), None, None),
        (DJI_LEGACY, 36.0671, 120.3826, T, None, None),
        (DASHCAM, 36.0671, 120.3826, T, 12.5, None),
        (DASHCAM_SPACED, 36.0671, 120.3826, T, 12.5, None),
        (SUFFIX, 36.0671, 120.3826, T, 28 * 0.44704, 87.0),
        (SOUTH_WEST, -33.8688, -151.2093, T, None, None),
        (KEYWORD, 36.0671, 120.3826, T, None, None),
    ],
)
def test_srt_variants(
    cue: str,
    lat: float,
    lon: float,
    time: datetime,
    speed: float | None,
    heading: float | None,
) -> None:
    track = parse_srt(_srt(cue, cue), "clip.srt", tz=CST)
    assert track.kind == "srt" and len(track) == 2
    fix = track.fixes[0]
    assert (fix.lat, fix.lon, fix.time, fix.offset) == (lat, lon, time, 0.0)
    assert fix.speed == (None if speed is None else pytest.approx(speed))
    assert fix.heading == heading


def test_relative_track_and_alignment() -> None:
    track = parse_srt(_srt("N36.0000 E120.0000", "N36.0000 E120.0020", "N36.0020 E120.0020"))
    assert track.has_offsets and not track.has_times
    assert [f.offset for f in track.fixes] == [0.0, 1.0, 2.0]
    point = align(track, None, 0.5)
    assert point is not None
    assert (point.lat, point.lon) == pytest.approx((36.0, 120.001))
    assert point.heading == pytest.approx(90.0, abs=0.01)
    assert guess_video_start(track) is None


def test_clocks_give_the_video_start() -> None:
    track = parse_srt(_srt(DASHCAM, DASHCAM.replace("08:15:02", "08:15:03")), tz=CST)
    assert track.has_times and track.has_offsets
    assert guess_video_start(track) == T
    assert track.at(T + timedelta(seconds=0.5)) == align(track, None, 0.5)


def test_clock_missing_on_some_cues_keeps_offsets_only() -> None:
    track = parse_srt(_srt(DASHCAM, "N36.0672 E120.3826"))
    assert len(track) == 2 and not track.has_times


def test_cues_without_a_usable_position_are_counted() -> None:
    text = _srt(
        "2026-11-26 08:15:00 N0.000000 E0.000000 0km/h",  # no fix yet
        "2026-11-26 08:15:01 GPS signal lost",
        "[latitude: 96.0] [longitude: 120.0]",
        DASHCAM,
    )
    track = parse_srt("\ufeff" + text.replace("\n", "\r\n"))
    assert len(track) == 1
    assert track.fixes[0].offset == 3.0
    assert track.skipped == {"no fix": 1, "no position": 1, "bad position": 1}


def test_dot_milliseconds_and_no_blank_lines() -> None:
    text = (
        "1\n00:00:00.500 --> 00:00:01.000\nN36.0 E120.0\n2\n00:00:01.5 --> 00:00:02.0\nN36.1 E120.1"
    )
    track = parse_srt(text)
    assert [(f.offset, f.lat) for f in track.fixes] == [(0.5, 36.0), (1.5, 36.1)]
