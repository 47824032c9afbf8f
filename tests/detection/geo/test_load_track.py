import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from detection.errors import InputError
from detection.geo import align, load_track, load_track_or_warn, nmea_checksum

T0 = datetime(2026, 11, 26, 0, 15, 0, tzinfo=UTC)


def _gpx(n: int = 5) -> str:
    points = "".join(
        f'<trkpt lat="{36.0 + i * 1e-4:.4f}" lon="120.3826">'
        f"<time>{(T0 + timedelta(seconds=i)).isoformat()}</time></trkpt>"
        for i in range(n)
    )
    return (
        '<?xml version="1.0"?>\n<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><trkseg>{points}</trkseg></trk></gpx>"
    )


def _nmea(n: int = 5) -> str:
    bodies = [
        f"GPRMC,0815{i:02d}.00,A,3600.{i:04d},N,12022.9560,E,10.0,0.0,261126,,,A" for i in range(n)
    ]
    return "\n".join(f"${b}*{nmea_checksum(b)}" for b in bodies)


def _srt(n: int = 5) -> str:
    return "\n".join(
        f"{i + 1}\n00:00:{i:02d},000 --> 00:00:{i + 1:02d},000\n"
        f"2026-11-26 08:15:{i:02d} N{36.0 + i * 1e-4:.4f} E120.3826 36km/h\n"
        for i in range(n)
    )


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("ride.gpx", _gpx(), "gpx"),
        ("ride.txt", _gpx(), "gpx"),  # content decides, not the extension
        ("ride.nmea", _nmea(), "nmea"),
        ("ride.gpx", _nmea(), "nmea"),
        ("LOG0001.TXT", _nmea(), "nmea"),
        ("clip.srt", _srt(), "srt"),
        ("clip.txt", "\ufeff" + _srt(), "srt"),
    ],
)
def test_dispatch_by_content(tmp_path: Path, name: str, text: str, kind: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    track = load_track(path, tz=timezone(timedelta(hours=8)))
    assert (track.kind, len(track), track.source) == (kind, 5, str(path))
    assert track.fixes[1].lat == pytest.approx(36.0 + 1e-4 if kind != "nmea" else 36.0 + 1e-4 / 60)
    if track.has_times:
        assert track.start == (T0 if kind != "nmea" else T0.replace(hour=8))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, r"GPS track .*track\.gpx: cannot read it \(No such file or directory\)"),
        (lambda p: p.mkdir(), r"track\.gpx: cannot read it \(Is a directory\)"),
        (lambda p: p.write_text(" \n\n"), r"GPS track .*track\.gpx is empty"),
        (
            lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00"),
            r"track\.gpx: not a GPX, NMEA 0183 \(RMC/GGA\) or SRT subtitle track \(extension "
            r"\.gpx is not used to decide\)",
        ),
        (lambda p: p.write_text("<gpx><trk>"), r"GPX file .*track\.gpx is not well-formed XML"),
    ],
)
def test_unreadable_tracks_raise_naming_the_file(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "track.gpx"
    make(path)
    with pytest.raises(InputError, match=message):
        load_track(path)


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        (None, ["cannot read it", "locations will be None"]),
        ("", ["is empty; locations will be None"]),
        ("<gpx><trk>", ["is not well-formed XML: no element found", "locations will be None"]),
        (
            _nmea().replace("*", "*0"),  # every checksum garbled
            ["skipped records (5 bad checksum)", "has no usable fixes; locations will be None"],
        ),
        ("<gpx/>", ["has no usable fixes; locations will be None"]),
    ],
)
def test_bad_tracks_warn_and_give_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str | None, messages: list[str]
) -> None:
    path = tmp_path / "dashcam_0007.gpx"
    if text is not None:
        path.write_text(text)
    with caplog.at_level(logging.WARNING, logger="detection.geo"):
        track = load_track_or_warn(path)
    assert track is None
    assert str(path) in caplog.text
    for message in messages:
        assert message in caplog.text
    assert align(track, T0, 1.0) is None  # callers carry on without locations


@pytest.mark.parametrize(
    ("make", "video_start", "covers"),
    [
        (_gpx, T0 + timedelta(hours=1), False),  # recorded an hour apart
        (_gpx, T0 - timedelta(seconds=40), False),
        (_gpx, T0 - timedelta(seconds=20), True),
        (_gpx, None, True),  # start guessed from the track
        (_srt, T0 + timedelta(hours=1), True),  # SRT is timed by the video itself
    ],
)
def test_track_must_overlap_the_video(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[], str],
    video_start: datetime | None,
    covers: bool,
) -> None:
    path = tmp_path / "ride.dat"
    path.write_text(make())
    with caplog.at_level(logging.WARNING, logger="detection.geo"):
        track = load_track_or_warn(path, video_start=video_start, video_duration_s=30.0)
    assert (track is not None) == covers
    if covers:
        assert caplog.text == ""
    else:
        assert f"GPS track {path} (2026-11-26T00:15:00+00:00 to" in caplog.text
        assert "does not overlap the video" in caplog.text


def test_partial_cover_is_reported_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ride.gpx"
    path.write_text(_gpx())
    with caplog.at_level(logging.INFO, logger="detection.geo"):
        track = load_track_or_warn(path, video_start=T0, video_duration_s=60.0)
    assert track is not None
    assert f"GPS track {path} covers 6 of the video's 60 s" in caplog.text
