"""The dashboard page (一表通办) in a real browser: the squad × standard grid and trend chart."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from detection.taxonomy import default_taxonomy
from serving.services.ticket_view import LOCAL_TZ
from tests.ui.helpers import LiveService, client_as, open_as

pytestmark = pytest.mark.slow

METRICS = ("new", "dispatched", "rectified", "closed", "overdue")


def shown(page: Any) -> list[list[str]]:
    """The grid's body and footer as the page shows it: [row label, every count...]."""
    return [
        [row.locator("th").text_content(), *row.locator("td").all_text_contents()]
        for row in page.locator("#report-table tbody tr, #report-table tfoot tr").all()
    ]


def expected(report: dict[str, Any], unassigned: str, total: str) -> list[list[str]]:
    rows = [
        [r["squad"] if r["squad_id"] else unassigned, *counts([*r["cells"], r["total"]])]
        for r in report["rows"]
    ]
    return [*rows, [total, *counts([*report["totals"], report["total"]])]]


def counts(groups: list[dict[str, Any]]) -> list[str]:
    return [str(g[m]) for g in groups for m in METRICS]


def test_dashboard_shows_the_grid_and_the_trend_chart(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    with client_as(live, "dispatcher") as client:
        created = []
        for camera, clause in (("cam-east", "3a"), ("cam-east", "6b"), ("cam-west", "2a")):
            body = {"clause": clause, "description": "测试", "camera_id": camera}
            response = client.post("/tickets", json=body)
            assert response.status_code == 201, response.text
            created.append(response.json())
        dispatched = client.post(f"/tickets/{created[0]['id']}/dispatch", json={})
        assert dispatched.status_code == 200, dispatched.text
        latest = max(datetime.fromisoformat(t["created_at"]) for t in created)
        day = latest.astimezone(LOCAL_TZ).date().isoformat()
        report = client.get("/reports/daily", params={"day": day}).json()

    page = open_as(browser, live, "dispatcher", f"#/dashboard/{day}")
    page.wait_for_selector("#report-table tbody tr")
    page.wait_for_function(
        "() => { const i = document.querySelector('#report-chart');"
        " return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0; }"
    )
    assert page.locator("#report-day").input_value() == day
    header = page.locator("#report-table thead tr").first.text_content()
    for standard in default_taxonomy().standards:
        assert standard.name_zh in header
    assert "合计" in header
    assert shown(page) == expected(report, "未分配", "合计")
    east = page.locator(f"#report-table tr[data-squad='{live.squads['east']}']")
    assert east.locator("td.sum[data-metric=new]").text_content() == "2"
    assert east.locator("td.sum[data-metric=dispatched]").text_content() == "1"
    assert page.locator("#report-table td.zero").count() > 0  # zeros shown, not left out
    width = page.evaluate("document.querySelector('#report-chart').naturalWidth")
    assert width >= 800
    page.screenshot(path=artifacts / "dashboard.png", full_page=True)
    with page.expect_popup() as popup:
        page.click("#report-print")
    printable = popup.value
    printable.wait_for_selector("table tfoot tr")
    assert printable.locator("img[src^='data:image/png']").evaluate("i => i.naturalWidth") >= 800
    assert printable.locator("tbody tr").count() == len(report["rows"])
    printable.screenshot(path=artifacts / "dashboard-printable.png", full_page=True)
    printable.close()
    with page.expect_download() as download:
        page.click("#report-csv")
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + len(report["rows"]) * 7 + 7  # header, cells and totals, 合计 lines

    with page.expect_response(lambda r: "/reports/daily/chart" in r.url and "lang=en" in r.url):
        page.click("#lang")
    page.wait_for_selector("#report-table thead th:has-text('Total')")
    assert shown(page) == expected(report, "unassigned", "Total")
    page.screenshot(path=artifacts / "dashboard-en.png", full_page=True)
    page.click("#lang")
    assert page.errors == []
    page.context.close()

    officer = open_as(browser, live, "officer_west", f"#/dashboard/{day}")
    officer.wait_for_selector("#report-table tbody tr")
    assert officer.locator("#report-table tbody tr").count() == 1
    rows = shown(officer)
    assert rows[0][0] == "西区派驻中队" and rows[0][-5:] == rows[1][-5:]  # its row is the total
    assert officer.errors == []
    officer.context.close()
