"""The daily report (一表通办): a squad × standard grid with totals and a 7-day trend."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from serving.schemas import Schema


class Counts(Schema):
    """What happened to tickets in one local day; each ticket counts in exactly one cell."""

    new: int = Field(ge=0, description="Tickets created that day.")
    dispatched: int = Field(ge=0, description="Tickets dispatched that day.")
    rectified: int = Field(ge=0, description="Tickets rectified that day.")
    closed: int = Field(ge=0, description="Tickets closed that day.")
    overdue: int = Field(ge=0, description="Past due and not rectified at the end of the day.")
    mean_dispatch_min: float | None = Field(
        description="Created → dispatched, minutes, over the day's dispatches."
    )
    mean_rectify_min: float | None = Field(
        description="Dispatched → rectified, minutes, over the day's rectifications."
    )


class Cell(Counts):
    standard: int = Field(ge=1)
    evidence: list[str] = Field(description="Original images of the cell's new tickets.")


class StandardColumn(Schema):
    id: int = Field(ge=1)
    name_zh: str
    name_en: str


class SquadRow(Schema):
    squad_id: int | None = Field(description="Null: tickets no squad is responsible for yet.")
    squad: str = Field(description="Squad name, or 未分配 for unrouted tickets.")
    cells: list[Cell] = Field(description="One per standard, in the order of 'standards'.")
    total: Counts = Field(description="The row total over all standards.")


class StandardTotal(Counts):
    standard: int = Field(ge=1)


class TrendPoint(Schema):
    """One standard on one day of the trend: the day's column total of the grid."""

    day: date
    standard: int = Field(ge=1)
    new: int = Field(ge=0)
    dispatched: int = Field(ge=0)
    rectified: int = Field(ge=0)
    closed: int = Field(ge=0)
    overdue: int = Field(ge=0)


class DailyReport(Schema):
    day: date
    timezone: str = Field(description="The timezone whose calendar day is reported.")
    standards: list[StandardColumn] = Field(description="The grid's columns, from the taxonomy.")
    rows: list[SquadRow] = Field(
        description="Every squad the user may see (and 未分配), zeros included."
    )
    totals: list[StandardTotal] = Field(description="Column totals, one per standard.")
    total: Counts = Field(description="The grand total.")
    trend: list[TrendPoint] = Field(
        description="Column totals of the days up to 'day', oldest first, every standard each day."
    )
