import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from detection.geo import GpsFix, GpsTrack, TrackConfig, align, bearing_deg, guess_video_start
from detection.geo.track import haversine_m

T0 = datetime(2026, 11, 26, 0, 15, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# East for 2 s, north for 2 s, then a 56 s gap (a tunnel) before the last fix.
TRACK = GpsTrack(
    [
        GpsFix(36.010, 120.010, _at(60)),  # given out of order on purpose: the track sorts
        GpsFix(36.000, 120.000, _at(0)),
        GpsFix(36.000, 120.002, _at(2)),
        GpsFix(36.002, 120.002, _at(4)),
    ]
)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1.0, (36.000, 120.001, 90.0)),  # midpoint, heading from the bearing between fixes
        (0.5, (36.000, 120.0005, 90.0)),
        (2.0, (36.000, 120.002, 0.0)),  # exact fix: heading towards the next fix
        (3.0, (36.001, 120.002, 0.0)),
        (-1.5, (36.000, 120.000, 90.0)),  # before the start, within the edge tolerance
        (-2.5, None),  # before the start, beyond the tolerance
        (61.0, (36.010, 120.010, None)),  # after the end, within tolerance; no bearing over a gap
        (62.5, None),
        (30.0, None),  # inside the long gap
        (5.0, (36.002, 120.002, 0.0)),  # beside a fix next to the gap: its near-side heading
        (59.0, (36.010, 120.010, None)),
    ],
)
def test_interpolation_table(
    seconds: float, expected: tuple[float, float, float | None] | None
) -> None:
    point = TRACK.at(_at(seconds))
    if expected is None:
        assert point is None
        return
    assert point is not None
    lat, lon, heading = expected
    assert point.lat == pytest.approx(lat, abs=1e-9)
    assert point.lon == pytest.approx(lon, abs=1e-9)
    assert point.heading == (None if heading is None else pytest.approx(heading, abs=0.01))


def test_time_zone_of_query_does_not_matter() -> None:
    beijing = timezone(timedelta(hours=8))
    assert TRACK.at(_at(1).astimezone(beijing)) == TRACK.at(_at(1))


def test_max_gap_is_configurable() -> None:
    bridged = GpsTrack(TRACK.fixes, config=TrackConfig(max_gap_s=60))
    point = bridged.at(_at(32))
    assert point is not None
    assert point.lat == pytest.approx(36.006)


@pytest.mark.parametrize(
    ("headings", "expected"),
    [
        ((350.0, 10.0), 0.0),  # the short way round north
        ((10.0, 350.0), 0.0),
        ((80.0, 100.0), 90.0),
        ((90.0, None), 90.0),  # only one fix has a heading: bearing between the fixes
    ],
)
def test_track_headings_interpolate_on_the_circle(
    headings: tuple[float, float | None], expected: float
) -> None:
    fixes = [GpsFix(36.0, 120.0, _at(0), heading=headings[0])]
    fixes.append(GpsFix(36.0, 120.001, _at(2), heading=headings[1]))
    point = GpsTrack(fixes).at(_at(1))
    assert point is not None
    assert point.heading == pytest.approx(expected, abs=0.01)


def test_stopped_car_has_no_heading() -> None:
    parked = GpsTrack([GpsFix(36.0, 120.0, _at(0)), GpsFix(36.0, 120.000001, _at(1))])
    point = parked.at(_at(0.5))
    assert point is not None
    assert point.heading is None


def test_antimeridian_is_crossed_the_short_way() -> None:
    track = GpsTrack([GpsFix(0.0, 179.9990, _at(0)), GpsFix(0.0, -179.9990, _at(2))])
    point = track.at(_at(1))
    assert point is not None
    assert abs(point.lon) == pytest.approx(180.0)
    assert point.heading == pytest.approx(90.0)


def test_single_fix_track() -> None:
    track = GpsTrack([GpsFix(36.0, 120.0, _at(0), heading=12.0)])
    assert track.at(_at(1)) == track.fixes[0].point
    assert track.at(_at(3)) is None


def test_empty_track_knows_nothing() -> None:
    empty = GpsTrack([], source="empty.gpx")
    assert (empty.at(T0), empty.at_offset(0.0), empty.start, empty.end) == (None, None, None, None)


def test_duplicate_times_keep_the_first_fix() -> None:
    track = GpsTrack([GpsFix(36.0, 120.0, _at(0)), GpsFix(37.0, 121.0, _at(0))])
    assert [f.lat for f in track.fixes] == [36.0]


def test_geometry_helpers() -> None:
    assert bearing_deg(36.0, 120.0, 35.0, 120.0) == pytest.approx(180.0)
    assert bearing_deg(36.0, 120.0, 36.0, 119.9) == pytest.approx(270.0, abs=0.1)
    # One degree of latitude is about 111.2 km.
    assert haversine_m(36.0, 120.0, 37.0, 120.0) == pytest.approx(111_195, rel=1e-3)
    # Antipodes whose haversine term rounds to just above 1: half the circumference, no
    # math domain error from asin.
    assert haversine_m(-33.794, -48.36, 33.794, 131.64) == pytest.approx(math.pi * 6_371_008.8)


# A dashcam SRT: video-relative offsets plus a camera clock 5 s ahead of the first subtitle.
RELATIVE = GpsTrack(
    [GpsFix(36.0, 120.0, offset=0.0), GpsFix(36.0, 120.002, offset=2.0)], source="clip.srt"
)
BOTH = GpsTrack(
    [
        GpsFix(36.0, 120.0, _at(5), offset=0.0),
        GpsFix(36.0, 120.002, _at(7), offset=2.0),
        GpsFix(36.0, 120.004, _at(9.5), offset=4.0),  # a clock jump: the median ignores it
    ]
)


@pytest.mark.parametrize(
    ("track", "video_start", "pts", "lon"),
    [
        (RELATIVE, None, 1.0, 120.001),  # offsets: pts is looked up directly
        (RELATIVE, _at(1000), 1.0, 120.001),  # ... whatever the video start
        (TRACK, T0, 1.0, 120.001),  # absolute: video_start + pts
        (TRACK, _at(-1), 2.0, 120.001),
        (TRACK, None, 1.0, 120.001),  # start guessed: the track's first fix
        (TRACK, _at(100), 1.0, None),  # video after the track
        (None, T0, 1.0, None),  # no track at all
        (GpsTrack([]), T0, 1.0, None),
    ],
)
def test_align(
    track: GpsTrack | None, video_start: datetime | None, pts: float, lon: float | None
) -> None:
    point = align(track, video_start, pts)
    assert (point.lon if point else None) == (pytest.approx(lon) if lon else None)


@pytest.mark.parametrize(
    ("track", "expected"),
    [(BOTH, _at(5)), (TRACK, T0), (RELATIVE, None), (GpsTrack([]), None)],
)
def test_guess_video_start(track: GpsTrack, expected: datetime | None) -> None:
    assert guess_video_start(track) == expected


@pytest.mark.parametrize(
    ("track", "video_start", "duration", "expected"),
    [
        (TRACK, T0, 30.0, 30.0),
        (TRACK, _at(50), 30.0, 12.0),  # the track ends at 60 s (+2 s tolerance)
        (TRACK, _at(70), 30.0, 0.0),
        (TRACK, None, 10.0, 10.0),
        (RELATIVE, None, 60.0, 4.0),  # offsets 0..2 s, +2 s tolerance
    ],
)
def test_overlap(
    track: GpsTrack, video_start: datetime | None, duration: float, expected: float
) -> None:
    assert track.overlap_s(video_start, duration) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: TRACK.at(datetime(2026, 11, 26)), "timezone-aware"),
        (lambda: RELATIVE.at(T0), "clip.srt has only video-relative times"),
        (lambda: TRACK.at_offset(1.0), "has no video offsets"),
        (lambda: GpsFix(36.0, 120.0), "needs a time or a video offset"),
        (lambda: GpsFix(91.0, 120.0, T0), "out of range"),
        (lambda: GpsFix(36.0, 120.0, datetime(2026, 1, 1)), "timezone-aware"),
        (lambda: GpsFix(36.0, 120.0, T0, speed=-1.0), "speed must be >= 0"),
        (
            lambda: GpsTrack([GpsFix(36.0, 120.0, T0), GpsFix(36.0, 120.0, offset=1.0)]),
            "all have times or all have offsets",
        ),
    ],
)
def test_misuse_is_a_clear_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_fix_normalises_time_and_heading() -> None:
    fix = GpsFix(36.0, 120.0, datetime(2026, 11, 26, 8, tzinfo=timezone(timedelta(hours=8))), 0.0)
    assert fix.time == datetime(2026, 11, 26, 0, tzinfo=UTC)
    assert GpsFix(36.0, 120.0, T0, heading=-90.0).heading == 270.0
    assert GpsFix(36.0, 120.0, T0, heading=-1e-17).heading == 0.0


@pytest.mark.parametrize(
    "kwargs", [{"max_gap_s": 0}, {"edge_tolerance_s": -1}, {"min_heading_move_m": 5000}, {"x": 1}]
)
def test_config_bounds(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        TrackConfig(**kwargs)
