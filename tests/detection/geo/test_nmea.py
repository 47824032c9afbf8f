from datetime import UTC, date, datetime
from functools import reduce

import pytest

from detection.geo import nmea_checksum, parse_nmea

# The textbook sentences (their checksums are published with them, not computed here).
RMC_TEXTBOOK = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
GGA_TEXTBOOK = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"


def _s(body: str) -> str:
    """A sentence with its checksum, computed independently of the code under test."""
    return f"${body}*{reduce(lambda acc, ch: acc ^ ord(ch), body, 0):02X}"


def _rmc(hms: str, lat: str, lon: str, ddmmyy: str = "261126", status: str = "A") -> str:
    return _s(f"GNRMC,{hms},{status},{lat},{lon},21.6,87.5,{ddmmyy},,,A")


def _gga(hms: str, lat: str, lon: str, quality: str = "1") -> str:
    return _s(f"GNGGA,{hms},{lat},{lon},{quality},12,0.8,35.2,M,7.1,M,,")


QD = ("3604.0260,N", "12022.9560,E")  # Qingdao, 36.0671 N 120.3826 E


@pytest.mark.parametrize(("sentence", "checksum"), [(RMC_TEXTBOOK, "6A"), (GGA_TEXTBOOK, "47")])
def test_checksum_matches_published_sentences(sentence: str, checksum: str) -> None:
    assert nmea_checksum(sentence[1:-3]) == checksum


def test_textbook_rmc_and_gga_merge_into_one_fix() -> None:
    track = parse_nmea(f"{GGA_TEXTBOOK}\r\n{RMC_TEXTBOOK}\r\n", "drive.nmea")
    assert len(track) == 1 and not track.skipped
    fix = track.fixes[0]
    assert fix.time == datetime(1994, 3, 23, 12, 35, 19, tzinfo=UTC)
    assert fix.lat == pytest.approx(48 + 7.038 / 60)
    assert fix.lon == pytest.approx(11 + 31.0 / 60)
    assert fix.speed == pytest.approx(22.4 * 1852 / 3600)
    assert (fix.heading, fix.altitude) == (84.4, 545.4)


def test_a_drive_with_noise() -> None:
    lines = [
        "",
        _s("GPGSV,3,1,12,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45"),  # ignored
        _rmc("081500.00", *QD, status="V"),  # receiver not fixed yet
        _gga("081500.00", *QD, quality="0"),
        _rmc("081501.00", *QD),
        _rmc("081502.00", "3604.0320,N", "12022.9600,E")[:-2] + "00",  # corrupted in transit
        "$GNRMC,081503.00,A,3604.0380,N,12022.9640,E,21.6,87.5,261126,,,A",  # no checksum
        "2026-11-26 08:15:04 " + _rmc("081504.00", "3604.0440,N", "12022.9680,E"),  # prefix
        _rmc("081505.00", *QD).replace("12022.9560", "12062.9560"),  # a flipped bit
        _rmc("081506.00", "3604.0560,N", "12099.0000,E"),  # 99 minutes: malformed
        "garbage line",
    ]
    track = parse_nmea("\n".join(lines), "drive.nmea")
    assert [f.time.second for f in track.fixes if f.time] == [1, 4]
    assert track.skipped == {"no fix": 2, "bad checksum": 3, "malformed": 1, "not NMEA": 1}


def test_southern_and_western_hemispheres() -> None:
    fix = parse_nmea(_rmc("120000", "3351.1200,S", "15112.6200,W")).fixes[0]
    assert fix.lat == pytest.approx(-(33 + 51.12 / 60))
    assert fix.lon == pytest.approx(-(151 + 12.62 / 60))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (  # a GGA before any RMC is dated once the RMC comes: here, the day before
            [_gga("235959.50", *QD), _rmc("000000.00", *QD, "271126"), _gga("000001.00", *QD)],
            [(26, 23, 59, 59, 500000), (27, 0, 0, 0, 0), (27, 0, 0, 1, 0)],
        ),
        (  # a GGA after the last RMC of the day rolls over at midnight
            [_rmc("235959", *QD, "261126"), _gga("000000", *QD)],
            [(26, 23, 59, 59, 0), (27, 0, 0, 0, 0)],
        ),
    ],
)
def test_gga_takes_the_rmc_date_across_midnight(
    lines: list[str], expected: list[tuple[int, ...]]
) -> None:
    times = [f.time for f in parse_nmea("\n".join(lines)).fixes]
    assert times == [datetime(2026, 11, *t, tzinfo=UTC) for t in expected]


def test_gga_only_log_needs_a_date() -> None:
    text = "\n".join([_gga("235959", *QD), _gga("000000", *QD)])
    assert len(parse_nmea(text)) == 0
    assert parse_nmea(text).skipped == {"no date": 2}
    track = parse_nmea(text, log_date=date(2026, 11, 26))
    assert [f.time for f in track.fixes] == [
        datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 11, 27, 0, 0, 0, tzinfo=UTC),  # rolled over at midnight
    ]
    assert track.fixes[0].altitude == 35.2
