"""The daily report as JSON, CSV or a printable HTML page."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from serving.api.deps import ServicesDep, SessionDep, StaffUser
from serving.schemas.reports import DailyReport
from serving.services import reports
from serving.services.ticket_view import LOCAL_TZ

router = APIRouter(prefix="/reports", tags=["reports"])


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    HTML = "html"


@router.get(
    "/daily",
    response_model=DailyReport,
    responses={200: {"content": {"text/csv": {}, "text/html": {}}, "description": "The report."}},
)
def daily(
    user: StaffUser,
    services: ServicesDep,
    session: SessionDep,
    day: Annotated[
        date | None,
        Query(ge=date(2000, 1, 1), le=date(2099, 12, 31), description="Default: today."),
    ] = None,
    format: ReportFormat = ReportFormat.JSON,
) -> DailyReport | Response:
    """Per squad and standard: new, dispatched, rectified, overdue, mean times; default today."""
    day = day or datetime.now(LOCAL_TZ).date()
    report = reports.daily_report(
        session, services.taxonomy, user, day, services.settings.public_base_url
    )
    if format is ReportFormat.CSV:
        return Response(
            reports.to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="shirong-{day}.csv"'},
        )
    if format is ReportFormat.HTML:
        return HTMLResponse(reports.to_html(report))
    return report
