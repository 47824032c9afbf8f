"""Time windows: inclusive start, exclusive end, midnight wrap, days of the week."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from detection.rules.schedule import TimeWindow, Weekday, any_contains

SH = ZoneInfo("Asia/Shanghai")


def local(day: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """May 2024: the 6th is a Monday, the 10th a Friday, the 11th a Saturday."""
    return datetime(2024, 5, day, hh, mm, ss, tzinfo=SH)


NIGHT = TimeWindow(start=time(18), end=time(2))
DAY = TimeWindow(start=time(8), end=time(18))
FRIDAY_NIGHT = TimeWindow(start=time(18), end=time(2), days=(Weekday.FRI,))

CASES = [
    (DAY, local(6, 7, 59, 59), False),
    (DAY, local(6, 8), True),
    (DAY, local(6, 17, 59, 59), True),
    (DAY, local(6, 18), False),
    (NIGHT, local(6, 17, 59, 59), False),
    (NIGHT, local(6, 18), True),
    (NIGHT, local(6, 23, 59, 59), True),
    (NIGHT, local(7, 0), True),
    (NIGHT, local(7, 1, 59, 59), True),
    (NIGHT, local(7, 2), False),
    (NIGHT, local(7, 12), False),
    (FRIDAY_NIGHT, local(10, 17), False),
    (FRIDAY_NIGHT, local(10, 19), True),
    (FRIDAY_NIGHT, local(11, 1), True),  # Saturday 01:00 belongs to Friday's night
    (FRIDAY_NIGHT, local(11, 19), False),
    (FRIDAY_NIGHT, local(10, 1), False),  # Friday 01:00 belongs to Thursday's night
]


@pytest.mark.parametrize(
    ("window", "when", "inside"),
    CASES,
    ids=[f"{w.start:%H}-{w.end:%H}{'-fri' if w.days else ''}@{t:%a-%H:%M:%S}" for w, t, _ in CASES],
)
def test_contains(window: TimeWindow, when: datetime, inside: bool) -> None:
    assert window.contains(when) is inside


def test_any_contains_and_wraps() -> None:
    assert NIGHT.wraps and not DAY.wraps
    assert any_contains([DAY, NIGHT], local(6, 12)) and any_contains([DAY, NIGHT], local(6, 22))
    assert not any_contains([], local(6, 12))


def test_end_midnight_is_the_end_of_the_day() -> None:
    until_midnight = TimeWindow(start=time(20), end=time(0))
    assert until_midnight.contains(local(6, 23, 59, 59))
    assert not until_midnight.contains(local(7, 0))


def test_zone_local_time_uses_the_source_timezone() -> None:
    """A UTC capture time at 01:00 is 09:00 in Shanghai: inside the 08:00-18:00 period."""
    utc = datetime(2024, 5, 6, 1, 0, tzinfo=ZoneInfo("UTC"))
    assert DAY.contains(utc.astimezone(SH))
    assert not DAY.contains(utc)
