"""The daily per-squad table (JSON, CSV, printable HTML) and the Prometheus metrics."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import update

from serving.db.models import Ticket, UserRole
from serving.services.ticket_view import LOCAL_TZ
from tests.serving.conftest import Api, make_record, post_record, sha

DAY = date(2026, 5, 4)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


class Day:
    """Tickets placed on DAY (Asia/Shanghai) by setting their timestamps."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.west, self.east = api.squad("west"), api.squad("east")
        self.t1 = self.ticket("3a", self.west, at(9), at(9, 30), rectified=at(11, 30))
        self.t2 = self.ticket("3a", self.west, at(10), at(11), due=at(13))
        previous = DAY - timedelta(days=1)
        self.t3 = self.ticket("6b", self.east, at(23, day=previous), at(8))
        self.ticket("3a", self.west, at(9, day=DAY + timedelta(days=1)), None)

    def ticket(
        self,
        clause: str,
        squad: int,
        created: datetime,
        dispatched: datetime | None,
        rectified: datetime | None = None,
        due: datetime | None = None,
    ) -> int:
        evidence = [sha(f"{clause}{created}")]
        body = {"clause": clause, "description": "测试", "evidence": evidence}
        tid = int(self.api.ok("POST", "/tickets", json=body)["id"])
        if dispatched:
            self.api.ok("POST", f"/tickets/{tid}/dispatch", json={"squad_id": squad})
        status = "rectified" if rectified else "dispatched" if dispatched else "new"
        with self.api.services.sessions() as session:
            session.execute(
                update(Ticket)
                .where(Ticket.id == tid)
                .values(
                    created_at=created,
                    dispatched_at=dispatched,
                    rectified_at=rectified,
                    due_at=due or (dispatched + timedelta(days=1) if dispatched else None),
                    status=status,
                )
            )
            session.commit()
        return tid


@pytest.fixture
def day(api: Api) -> Day:
    return Day(api)


def test_daily_report_json(api: Api, day: Day) -> None:
    report = api.ok("GET", "/reports/daily", params={"day": DAY.isoformat()})
    assert (report["day"], report["timezone"]) == ("2026-05-04", "Asia/Shanghai")
    assert report["rows"] == [
        {
            "squad": "west 中队",
            "standard": 3,
            "standard_name": "无“乱堆乱放”",
            "new": 2,
            "dispatched": 2,
            "rectified": 1,
            "overdue": 1,
            "mean_dispatch_min": 45.0,
            "mean_rectify_min": 120.0,
            "evidence": [
                f"http://shirong.test/evidence/{sha(f'3a{at(9)}')}",
                f"http://shirong.test/evidence/{sha(f'3a{at(10)}')}",
            ],
        },
        {
            "squad": "east 中队",
            "standard": 6,
            "standard_name": "无不文明养犬",
            "new": 0,
            "dispatched": 1,
            "rectified": 0,
            "overdue": 0,
            "mean_dispatch_min": 540.0,
            "mean_rectify_min": None,
            "evidence": [],
        },
    ]


def test_squad_officers_get_their_squads_rows(api: Api, day: Day) -> None:
    officer = api.actor(UserRole.SQUAD_OFFICER, day.east)
    report = api.ok("GET", "/reports/daily", officer, params={"day": DAY.isoformat()})
    assert [row["squad"] for row in report["rows"]] == ["east 中队"]


def test_daily_report_csv(api: Api, day: Day) -> None:
    response = api.client.get(
        "/reports/daily",
        headers=api.admin.headers,
        params={"day": DAY.isoformat(), "format": "csv"},
    )
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="shirong-2026-05-04.csv"' in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == [
        "中队",
        "标准",
        "新增",
        "派发",
        "整改",
        "超期",
        "平均派发用时(分)",
        "平均整改用时(分)",
        "原图",
    ]
    assert rows[1][:8] == ["west 中队", "3 无“乱堆乱放”", "2", "2", "1", "1", "45.0", "120.0"]
    assert rows[2][:8] == ["east 中队", "6 无不文明养犬", "0", "1", "0", "0", "540.0", ""]


def test_daily_report_html_is_one_printable_table(api: Api, day: Day) -> None:
    response = api.client.get(
        "/reports/daily",
        headers=api.admin.headers,
        params={"day": DAY.isoformat(), "format": "html"},
    )
    page = response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<meta charset="utf-8">' in page
    assert page.count("<table") == 1 and page.count("<tr>") == 3
    assert page.count('<a href="http://shirong.test/evidence/') == 2
    assert "市容秩序日报 2026-05-04" in page


def test_a_day_without_tickets(api: Api) -> None:
    empty = api.ok("GET", "/reports/daily", params={"day": "2020-01-01"})
    assert empty["rows"] == []
    page = api.client.get(
        "/reports/daily", headers=api.admin.headers, params={"day": "2020-01-01", "format": "html"}
    ).text
    assert "当日无工单" in page


def test_metrics(api: Api) -> None:
    post_record(api, make_record())
    post_record(api, make_record())
    api.ok("POST", "/tickets", json={"clause": "6b", "description": "流浪犬"})
    response = api.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    lines = set(response.text.splitlines())
    assert 'shirong_tickets{status="new"} 1.0' in lines
    assert 'shirong_incidents{status="pending"} 1.0' in lines
    assert any(
        line.startswith('shirong_incidents_ingested_total{result="duplicate"}') for line in lines
    )
