"""The daily report."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from serving.schemas import Schema


class DailyRow(Schema):
    squad: str = Field(description="Squad name, or 未分配 for unrouted tickets.")
    standard: int = Field(ge=1, le=6)
    standard_name: str
    new: int = Field(ge=0, description="Tickets created that day.")
    dispatched: int = Field(ge=0, description="Tickets dispatched that day.")
    rectified: int = Field(ge=0, description="Tickets rectified that day.")
    overdue: int = Field(ge=0, description="Past due and not rectified at the end of the day.")
    mean_dispatch_min: float | None = Field(description="Created → dispatched, minutes.")
    mean_rectify_min: float | None = Field(description="Dispatched → rectified, minutes.")
    evidence: list[str] = Field(description="Original images of the day's new tickets.")


class DailyReport(Schema):
    day: date
    timezone: str
    rows: list[DailyRow]
