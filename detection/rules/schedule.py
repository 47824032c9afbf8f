"""Local-time windows: market opening hours, night-market hours, the bureau's priority period.

A window runs from ``start`` (inclusive) to ``end`` (exclusive) in the source's local time. When
``end`` is at or before ``start`` the window runs past midnight (18:00–02:00): such a window
belongs to the day it starts on, so a Friday-only night market is still open at 01:00 Saturday.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS = tuple(Weekday)


class TimeWindow(BaseModel):
    """A daily window of local time, optionally only on some days of the week."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = Field(description="Local start time HH:MM, inclusive.")
    end: time = Field(
        description="Local end time HH:MM, exclusive; at or before start means the window runs "
        "past midnight into the next day (18:00–02:00)."
    )
    days: tuple[Weekday, ...] | None = Field(
        default=None,
        min_length=1,
        max_length=7,
        description="Days the window starts on (mon..sun); every day when omitted.",
    )

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError(
                f"start and end are both {self.start:%H:%M}; a window needs two different times"
            )
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("times are local to the source's timezone; drop the UTC offset")
        return self

    @property
    def wraps(self) -> bool:
        return self.end < self.start

    def contains(self, local: datetime) -> bool:
        """Whether ``local`` (already in the source's timezone) falls inside the window."""
        t = local.time().replace(tzinfo=None)
        if not self.wraps:
            return self.start <= t < self.end and self._starts_on(local)
        if t >= self.start:
            return self._starts_on(local)
        return t < self.end and self._starts_on(local - timedelta(days=1))

    def _starts_on(self, day: datetime) -> bool:
        return self.days is None or WEEKDAYS[day.weekday()] in self.days


def any_contains(windows: Iterable[TimeWindow], local: datetime) -> bool:
    return any(w.contains(local) for w in windows)
