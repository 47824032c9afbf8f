"""The daily table (一表通办): every squad × every standard, zeros included, with totals.

One table serves all: the JSON, the CSV, the printable HTML page and the dashboard show the same
numbers, computed once here. Each ticket falls in exactly one cell (its squad, or 未分配, and its
standard), so row, column and grand totals add up. The trend is the grid's column totals on each
of the last ``TREND_DAYS`` days.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from statistics import fmean

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from detection.taxonomy import Taxonomy
from serving.db.models import Squad, Ticket, TicketStatus, User, UserRole
from serving.labels import word
from serving.schemas.reports import (
    Cell,
    Counts,
    DailyReport,
    SquadRow,
    StandardColumn,
    StandardTotal,
    TrendPoint,
)
from serving.services.links import EvidenceLinks
from serving.services.ticket_view import LOCAL_TZ

TREND_DAYS = 7
UNASSIGNED = word("report", "unassigned")
TOTAL = word("report", "total")
# (Counts field, Chinese label, English label): the columns of every output and the chart, in
# the words of the one dictionary the UI reads too (serving.labels).
METRICS = tuple(
    (field, word("report", field), word("report", field, "en"))
    for field in ("new", "dispatched", "rectified", "closed", "overdue")
)
MEANS = (("mean_dispatch_min", "平均派发用时(分)"), ("mean_rectify_min", "平均整改用时(分)"))
COUNT_FIELDS = {field for field, _, _ in METRICS}
CSV_HEADER = ("中队", "标准", *(zh for _, zh, _ in METRICS), *(zh for _, zh in MEANS), "原图")


@dataclass(frozen=True)
class Span:
    """A local day as an aware [start, end) interval."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, day: date) -> Span:
        """The bureau's (Asia/Shanghai) calendar day."""
        start = datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
        return cls(start, start + timedelta(days=1))

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


def daily_report(
    session: Session, taxonomy: Taxonomy, actor: User, day: date, links: EvidenceLinks
) -> DailyReport:
    """The grid for one local day; squad officers get their squad's row only. Evidence is linked
    by ``links`` (signed: they open without a login, as a forwarded report needs)."""
    days = [day - timedelta(days=n) for n in reversed(range(TREND_DAYS))]
    span = Span.of(day)
    squads = _squads(session, actor)
    tickets = _tickets(session, actor, Span.of(days[0]).start, span.end)
    standards = [s.id for s in taxonomy.standards]
    cells: dict[tuple[int | None, int], list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        cells[(ticket.squad_id, ticket.standard)].append(ticket)
    rows = [
        SquadRow(
            squad_id=squad_id,
            squad=name,
            cells=[_cell(cells[(squad_id, s)], s, span, links) for s in standards],
            total=_counts(_joined(cells[(squad_id, s)] for s in standards), span),
        )
        for squad_id, name in squads
    ]
    columns = {s: _joined(cells[(squad_id, s)] for squad_id, _ in squads) for s in standards}
    return DailyReport(
        day=day,
        timezone=str(LOCAL_TZ),
        standards=[
            StandardColumn(id=s.id, name_zh=s.name_zh, name_en=s.name_en)
            for s in taxonomy.standards
        ],
        rows=rows,
        totals=[
            StandardTotal(standard=s, **_counts(columns[s], span).model_dump()) for s in standards
        ],
        total=_counts(_joined(columns.values()), span),
        trend=[
            TrendPoint(
                day=d,
                standard=s,
                **_counts(columns[s], Span.of(d)).model_dump(include=COUNT_FIELDS),
            )
            for d in days
            for s in standards
        ],
    )


def _squads(session: Session, actor: User) -> list[tuple[int | None, str]]:
    """The grid's rows: the officer's squad, or every squad and then the unrouted tickets."""
    query = select(Squad.id, Squad.name).order_by(Squad.id)
    if actor.role == UserRole.SQUAD_OFFICER.value:
        return [
            (row.id, row.name) for row in session.execute(query.where(Squad.id == actor.squad_id))
        ]
    rows: list[tuple[int | None, str]] = [(row.id, row.name) for row in session.execute(query)]
    return [*rows, (None, UNASSIGNED)]


def _tickets(session: Session, actor: User, start: datetime, end: datetime) -> list[Ticket]:
    """Tickets that existed at some time in [start, end): created before its end, not closed
    before its start."""
    query = select(Ticket).where(
        Ticket.created_at < end,
        or_(Ticket.closed_at.is_(None), Ticket.closed_at >= start),
    )
    if actor.role == UserRole.SQUAD_OFFICER.value:
        query = query.where(Ticket.squad_id == actor.squad_id)
    return list(session.scalars(query))


def _joined(groups: Iterable[list[Ticket]]) -> list[Ticket]:
    return [ticket for group in groups for ticket in group]


def _counts(tickets: list[Ticket], span: Span) -> Counts:
    dispatched = [t for t in tickets if span.holds(t.dispatched_at)]
    rectified = [t for t in tickets if span.holds(t.rectified_at)]
    return Counts(
        new=sum(span.holds(t.created_at) for t in tickets),
        dispatched=len(dispatched),
        rectified=len(rectified),
        closed=sum(span.holds(t.closed_at) for t in tickets),
        overdue=sum(_overdue_at(t, span.end) for t in tickets),
        mean_dispatch_min=_mean_minutes([(t.created_at, t.dispatched_at) for t in dispatched]),
        mean_rectify_min=_mean_minutes([(t.dispatched_at, t.rectified_at) for t in rectified]),
    )


def _cell(tickets: list[Ticket], standard: int, span: Span, links: EvidenceLinks) -> Cell:
    new = [t for t in tickets if span.holds(t.created_at)]
    return Cell(
        standard=standard,
        evidence=[links.url(sha) for t in new for sha in t.evidence],
        **_counts(tickets, span).model_dump(),
    )


def _overdue_at(ticket: Ticket, end: datetime) -> bool:
    """Past its due time at ``end`` and neither rectified nor closed by then (cancelled: never)."""
    if (
        ticket.due_at is None
        or ticket.due_at >= end
        or ticket.status == TicketStatus.CANCELLED.value
    ):
        return False
    done = ticket.rectified_at or ticket.closed_at
    return done is None or done >= end


def _mean_minutes(spans: list[tuple[datetime | None, datetime | None]]) -> float | None:
    minutes = [(b - a).total_seconds() / 60 for a, b in spans if a is not None and b is not None]
    return round(fmean(minutes), 1) if minutes else None


def _numbers(counts: Counts) -> list[str]:
    means = (getattr(counts, field) for field, _ in MEANS)
    return [
        *(str(getattr(counts, field)) for field, _, _ in METRICS),
        *("" if v is None else f"{v:.1f}" for v in means),
    ]


def to_csv(report: DailyReport) -> str:
    """One line per squad × standard, then each squad's total, each standard's total and the
    grand total (合计). A UTF-8 BOM lets spreadsheet programs read the Chinese headers."""
    names = {s.id: f"{s.id} {s.name_zh}" for s in report.standards}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in report.rows:
        for cell in row.cells:
            writer.writerow(
                [row.squad, names[cell.standard], *_numbers(cell), " ".join(cell.evidence)]
            )
        writer.writerow([row.squad, TOTAL, *_numbers(row.total), ""])
    for column in report.totals:
        writer.writerow([TOTAL, names[column.standard], *_numbers(column), ""])
    writer.writerow([TOTAL, TOTAL, *_numbers(report.total), ""])
    return "\ufeff" + out.getvalue()


def to_html(report: DailyReport, chart_png: bytes) -> str:
    """A printable page: the grid as one table (squads × standards × the five counts), then the
    7-day trend chart, embedded so the page stands alone when saved or forwarded."""
    metrics = len(METRICS)
    groups = [f"{s.id} {s.name_zh}" for s in report.standards] + [TOTAL]
    head_top = "".join(f'<th colspan="{metrics}">{html.escape(g)}</th>' for g in groups)
    head_sub = "".join(f"<th>{zh}</th>" for _ in groups for _, zh, _ in METRICS)
    body = [_html_row(row.squad, [*row.cells, row.total], _links(row)) for row in report.rows]
    foot = _html_row(TOTAL, [*report.totals, report.total], "")
    title = f"市容秩序日报 {report.day.isoformat()}"
    chart = base64.b64encode(chart_png).decode("ascii")
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>"
        "@page{size:A4 landscape;margin:1cm}"
        "body{font-family:'Noto Sans CJK SC',sans-serif;margin:1cm}"
        "table{border-collapse:collapse;width:100%}th,td{border:1px solid #444;padding:2px 4px;"
        "font-size:9pt;text-align:center}th{background:#eee}td.zero{color:#999}"
        "tfoot td,td.sum{font-weight:bold}img{max-width:100%}@media print{a{color:inherit}}"
        f"</style></head><body><h1>{html.escape(title)}</h1>"
        f'<table><thead><tr><th rowspan="2">中队</th>{head_top}<th rowspan="2">原图</th></tr>'
        f"<tr>{head_sub}</tr></thead><tbody>{''.join(body)}</tbody><tfoot>{foot}</tfoot></table>"
        f'<img alt="近{TREND_DAYS}日趋势" src="data:image/png;base64,{chart}">'
        "</body></html>\n"
    )


def _html_row(name: str, groups: list[Counts], links: str) -> str:
    cells = []
    for index, counts in enumerate(groups):
        total = index == len(groups) - 1
        for field, _, _ in METRICS:
            value = getattr(counts, field)
            css = "sum" if total else "zero" if value == 0 else ""
            cells.append(f'<td class="{css}">{value}</td>' if css else f"<td>{value}</td>")
    return f"<tr><th>{html.escape(name)}</th>{''.join(cells)}<td>{links}</td></tr>"


def _links(row: SquadRow) -> str:
    urls = [url for cell in row.cells for url in cell.evidence]
    return " ".join(f'<a href="{html.escape(url)}">{i}</a>' for i, url in enumerate(urls, 1))
