"""The daily per-squad table (一表通办): one table by squad and standard, with original images."""

from __future__ import annotations

import csv
import html
import io
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from statistics import fmean

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from detection.taxonomy import Taxonomy
from serving.db.models import Squad, Ticket, TicketStatus, User, UserRole
from serving.schemas.reports import DailyReport, DailyRow
from serving.services.ticket_view import LOCAL_TZ, evidence_url

COLUMNS = (
    ("squad", "中队"),
    ("standard", "标准"),
    ("new", "新增"),
    ("dispatched", "派发"),
    ("rectified", "整改"),
    ("overdue", "超期"),
    ("mean_dispatch_min", "平均派发用时(分)"),
    ("mean_rectify_min", "平均整改用时(分)"),
    ("evidence", "原图"),
)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local (Asia/Shanghai) day as an aware [start, end) interval."""
    start = datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
    return start, start + timedelta(days=1)


def daily_report(
    session: Session, taxonomy: Taxonomy, actor: User, day: date, base_url: str
) -> DailyReport:
    """Counts per squad and standard for one local day; squad officers get their squad's rows."""
    start, end = day_bounds(day)
    query = select(Ticket).where(
        Ticket.created_at < end,
        or_(Ticket.closed_at.is_(None), Ticket.closed_at >= start),
    )
    if actor.role == UserRole.SQUAD_OFFICER.value:
        query = query.where(Ticket.squad_id == actor.squad_id)
    groups: dict[tuple[int | None, int], list[Ticket]] = defaultdict(list)
    for ticket in session.scalars(query):
        groups[(ticket.squad_id, ticket.standard)].append(ticket)
    names = {s.id: s.name for s in session.scalars(select(Squad))}
    rows = [
        _row(
            tickets,
            names.get(squad_id, "未分配") if squad_id else "未分配",
            standard,
            taxonomy,
            start,
            end,
            base_url,
        )
        for (squad_id, standard), tickets in sorted(groups.items(), key=_order)
    ]
    return DailyReport(day=day, timezone=str(LOCAL_TZ), rows=[r for r in rows if _active(r)])


def _order(item: tuple[tuple[int | None, int], list[Ticket]]) -> tuple[int, int]:
    (squad_id, standard), _ = item
    return (squad_id or 0, standard)


def _active(row: DailyRow) -> bool:
    return bool(row.new or row.dispatched or row.rectified or row.overdue)


def _within(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment < end


def _row(
    tickets: list[Ticket],
    squad: str,
    standard: int,
    taxonomy: Taxonomy,
    start: datetime,
    end: datetime,
    base_url: str,
) -> DailyRow:
    new = [t for t in tickets if _within(t.created_at, start, end)]
    dispatched = [t for t in tickets if _within(t.dispatched_at, start, end)]
    rectified = [t for t in tickets if _within(t.rectified_at, start, end)]
    overdue = [t for t in tickets if _overdue_at(t, end)]
    return DailyRow(
        squad=squad,
        standard=standard,
        standard_name=taxonomy.standard(standard).name_zh,
        new=len(new),
        dispatched=len(dispatched),
        rectified=len(rectified),
        overdue=len(overdue),
        mean_dispatch_min=_mean_minutes([(t.created_at, t.dispatched_at) for t in dispatched]),
        mean_rectify_min=_mean_minutes([(t.dispatched_at, t.rectified_at) for t in rectified]),
        evidence=[evidence_url(base_url, sha) for t in new for sha in t.evidence],
    )


def _overdue_at(ticket: Ticket, end: datetime) -> bool:
    """Past its due time at the end of the day and not yet rectified by then."""
    if (
        ticket.due_at is None
        or ticket.due_at >= end
        or ticket.status == TicketStatus.CANCELLED.value
    ):
        return False
    return ticket.rectified_at is None or ticket.rectified_at > ticket.due_at


def _mean_minutes(spans: list[tuple[datetime | None, datetime | None]]) -> float | None:
    minutes = [(b - a).total_seconds() / 60 for a, b in spans if a is not None and b is not None]
    return round(fmean(minutes), 1) if minutes else None


def _cells(row: DailyRow) -> list[str]:
    mean = ("" if v is None else f"{v:.1f}" for v in (row.mean_dispatch_min, row.mean_rectify_min))
    return [
        row.squad,
        f"{row.standard} {row.standard_name}",
        str(row.new),
        str(row.dispatched),
        str(row.rectified),
        str(row.overdue),
        *mean,
        " ".join(row.evidence),
    ]


def to_csv(report: DailyReport) -> str:
    """CSV with a UTF-8 BOM so spreadsheet programs read the Chinese headers correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([zh for _, zh in COLUMNS])
    writer.writerows(_cells(row) for row in report.rows)
    return "\ufeff" + out.getvalue()


def to_html(report: DailyReport) -> str:
    """A printable page holding exactly one table."""
    head = "".join(f"<th>{html.escape(zh)}</th>" for _, zh in COLUMNS)
    body = []
    for row in report.rows:
        cells = [f"<td>{html.escape(c)}</td>" for c in _cells(row)[:-1]]
        links = " ".join(
            f'<a href="{html.escape(url)}">{i}</a>' for i, url in enumerate(row.evidence, 1)
        )
        body.append(f"<tr>{''.join(cells)}<td>{links}</td></tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(COLUMNS)}">当日无工单</td></tr>')
    title = f"市容秩序日报 {report.day.isoformat()}"
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:'Noto Sans CJK SC',sans-serif;margin:1cm}"
        "table{border-collapse:collapse;width:100%}th,td{border:1px solid #444;padding:4px 6px;"
        "font-size:10pt}th{background:#eee}@media print{a{color:inherit}}"
        f"</style></head><body><h1>{html.escape(title)}</h1>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        "</body></html>\n"
    )
