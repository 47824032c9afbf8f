"""The daily report as JSON, CSV or a printable HTML page, and its 7-day trend chart."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from serving.api.deps import ServicesDep, SessionDep, StaffUser
from serving.db.base import utcnow
from serving.db.models import User
from serving.schemas.reports import DailyReport
from serving.services import reports
from serving.services.links import EvidenceLinks
from serving.services.report_chart import MEDIA_TYPES, ChartFormat, trend_chart
from serving.services.ticket_view import LOCAL_TZ

router = APIRouter(prefix="/reports", tags=["reports"])

Day = Annotated[
    date | None,
    Query(ge=date(2000, 1, 1), le=date(2099, 12, 31), description="Default: today."),
]


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    HTML = "html"


def _report(
    user: User, services: ServicesDep, session: SessionDep, day: date | None
) -> DailyReport:
    day = day or datetime.now(LOCAL_TZ).date()
    links = EvidenceLinks.of(services.settings, utcnow())
    return reports.daily_report(session, services.taxonomy, user, day, links)


@router.get(
    "/daily",
    response_model=DailyReport,
    responses={200: {"content": {"text/csv": {}, "text/html": {}}, "description": "The report."}},
)
def daily(
    user: StaffUser,
    services: ServicesDep,
    session: SessionDep,
    day: Day = None,
    format: ReportFormat = ReportFormat.JSON,
) -> DailyReport | Response:
    """Every squad × standard: new, dispatched, rectified, closed, overdue, with row and column
    totals and a 7-day trend; squad officers get their squad's row. Default: today."""
    report = _report(user, services, session, day)
    if format is ReportFormat.CSV:
        return Response(
            reports.to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="shirong-{report.day}.csv"'},
        )
    if format is ReportFormat.HTML:
        return HTMLResponse(reports.to_html(report, trend_chart(report)))
    return report


@router.get(
    "/daily/chart",
    response_class=Response,
    responses={200: {"content": {v: {} for v in MEDIA_TYPES.values()}, "description": "Chart."}},
)
def daily_chart(
    user: StaffUser,
    services: ServicesDep,
    session: SessionDep,
    day: Day = None,
    format: ChartFormat = ChartFormat.PNG,
    lang: Literal["zh", "en"] = "zh",
) -> Response:
    """The report's 7-day trend, one panel per standard, as the HTML report embeds it."""
    report = _report(user, services, session, day)
    return Response(trend_chart(report, format, lang), media_type=MEDIA_TYPES[format])
