import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from detection.geo import read_exif_gps

GPS = ExifTags.GPS
QINGDAO = {
    GPS.GPSLatitudeRef: "N",
    GPS.GPSLatitude: (36.0, 4.0, 1.56),  # 36.0671 N
    GPS.GPSLongitudeRef: "E",
    GPS.GPSLongitude: (120.0, 22.0, 57.36),  # 120.3826 E
}


def _jpeg(
    path: Path,
    gps: dict[int, Any] | None,
    original: str | None = None,
    offset: str | None = None,
) -> Path:
    image = Image.new("RGB", (16, 16), (90, 120, 40))
    if gps is None and original is None:
        image.save(path)  # no EXIF segment at all
        return path
    exif = Image.Exif()
    if gps is not None:
        exif[ExifTags.IFD.GPSInfo] = gps
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if original:
        sub[ExifTags.Base.DateTimeOriginal] = original
    if offset:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
    image.save(path, exif=exif)
    return path


def test_tags_round_trip_through_pillow(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "p.jpg", QINGDAO | {GPS.GPSImgDirection: 87.5}, "2026:11:26 08:15:02")
    with Image.open(path) as im:
        gps = im.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert gps[GPS.GPSLatitudeRef] == "N"
    assert [float(v) for v in gps[GPS.GPSLongitude]] == [120.0, 22.0, 57.36]
    assert float(gps[GPS.GPSImgDirection]) == 87.5


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({}, (36.0671, 120.3826, None, None)),
        ({GPS.GPSImgDirectionRef: "T", GPS.GPSImgDirection: 87.5}, (36.0671, 120.3826, 87.5, None)),
        ({GPS.GPSImgDirectionRef: "M", GPS.GPSImgDirection: 360.0}, (36.0671, 120.3826, 0.0, None)),
        ({GPS.GPSLatitudeRef: "S", GPS.GPSLongitudeRef: "W"}, (-36.0671, -120.3826, None, None)),
        (
            {GPS.GPSLatitude: (36.0671,), GPS.GPSLongitude: (120.3826,)},
            (36.0671, 120.3826, None, None),
        ),
        ({GPS.GPSAltitudeRef: 0, GPS.GPSAltitude: 12.5}, (36.0671, 120.3826, None, 12.5)),
        ({GPS.GPSAltitudeRef: 1, GPS.GPSAltitude: 3.0}, (36.0671, 120.3826, None, -3.0)),
    ],
)
def test_position_heading_altitude(
    tmp_path: Path, tags: dict[int, Any], expected: tuple[float, float, float | None, float | None]
) -> None:
    lat, lon, heading, altitude = expected
    photo = read_exif_gps(_jpeg(tmp_path / "p.jpg", QINGDAO | tags))
    assert photo.point is not None
    assert (photo.point.lat, photo.point.lon) == pytest.approx((lat, lon), abs=1e-9)
    assert photo.point.heading == heading
    assert photo.altitude == altitude


T = datetime(2026, 11, 26, 0, 15, 2, tzinfo=UTC)
GPS_STAMP = {GPS.GPSDateStamp: "2026:11:26", GPS.GPSTimeStamp: (0.0, 15.0, 2.0)}


@pytest.mark.parametrize(
    ("gps", "original", "offset", "tz", "expected"),
    [
        (QINGDAO, "2026:11:26 08:15:02", "+08:00", UTC, T),  # the offset tag wins
        (QINGDAO, "2026:11:26 08:15:02", None, timezone(timedelta(hours=8)), T),
        (QINGDAO, "2026:11:26 00:15:02", None, UTC, T),
        (QINGDAO, "2026:11:25 19:15:02", "-05:00", UTC, T),
        (QINGDAO | GPS_STAMP, None, None, UTC, T),  # no DateTimeOriginal: the GPS stamp (UTC)
        (QINGDAO, "0000:00:00 00:00:00", None, UTC, None),  # what some phones write
        (QINGDAO, None, None, UTC, None),
    ],
)
def test_capture_time(
    tmp_path: Path,
    gps: dict[int, Any],
    original: str | None,
    offset: str | None,
    tz: timezone,
    expected: datetime | None,
) -> None:
    photo = read_exif_gps(_jpeg(tmp_path / "p.jpg", gps, original, offset), tz=tz)
    assert photo.time == expected


@pytest.mark.parametrize(
    ("gps", "original", "message"),
    [
        (None, None, "has no EXIF data; location and capture time unknown"),
        (None, "2026:11:26 08:15:02", "no GPS tags in EXIF; location unknown"),
        ({GPS.GPSLatitudeRef: "N"}, None, "GPS latitude/longitude missing or invalid"),
        (
            QINGDAO | {GPS.GPSLatitude: (IFDRational(36, 1), IFDRational(4, 0), 1.56)},
            None,
            "GPS latitude/longitude missing or invalid",
        ),
        (
            QINGDAO | {GPS.GPSLatitude: (0.0, 0.0, 0.0), GPS.GPSLongitude: (0.0, 0.0, 0.0)},
            None,
            "GPS position is 0,0 (no fix)",
        ),
    ],
)
def test_missing_gps_warns_and_returns_none(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    gps: dict[int, Any] | None,
    original: str | None,
    message: str,
) -> None:
    path = _jpeg(tmp_path / "patrol_0042.jpg", gps, original)
    with caplog.at_level(logging.WARNING, logger="detection.geo"):
        photo = read_exif_gps(path)
    assert photo.point is None
    assert f"Photo {path}" in caplog.text and message in caplog.text
    assert (photo.time is not None) == (original is not None)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("not an image"), "cannot identify image file"),
        (lambda p: None, "No such file or directory"),
    ],
)
def test_unreadable_photo_warns_and_returns_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make: Any, message: str
) -> None:
    path = tmp_path / "broken.jpg"
    make(path)
    with caplog.at_level(logging.WARNING, logger="detection.geo"):
        photo = read_exif_gps(path)
    assert (photo.point, photo.time) == (None, None)
    assert f"Photo {path}: cannot read it" in caplog.text and message in caplog.text
