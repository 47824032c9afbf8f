"""The daily table (一表通办): squad × standard grid with zeros and totals, CSV, HTML, trend chart;
and the Prometheus metrics."""

from __future__ import annotations

import base64
import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from matplotlib.ft2font import FT2Font
from PIL import Image
from sqlalchemy import update

from detection.taxonomy import default_taxonomy
from serving.db.models import Ticket, UserRole
from serving.services import report_chart
from serving.services.report_chart import cjk_font_file
from serving.services.reports import METRICS
from serving.services.ticket_view import LOCAL_TZ
from tests.serving.helpers import Api, Tables, make_record, post_record, sha

DAY = date(2026, 5, 4)
FIELDS = [field for field, _, _ in METRICS]  # new, dispatched, rectified, closed, overdue
STANDARDS = [s.id for s in default_taxonomy().standards]


def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    """A time on DAY (Asia/Shanghai) shifted by ``days``."""
    d = DAY + timedelta(days=days)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=LOCAL_TZ)


@dataclass(frozen=True)
class Seed:
    """One ticket as it stands: squad code (None: unrouted), status and its timestamps."""

    clause: str
    squad: str | None
    status: str
    created: datetime
    dispatched: datetime | None = None
    rectified: datetime | None = None
    closed: datetime | None = None
    due: datetime | None = None


SEEDS = [
    Seed("3a", "west", "rectified", at(9), at(9, 30), at(11, 30), due=at(9, days=1)),
    Seed("3a", "west", "dispatched", at(10), at(11), due=at(13)),  # overdue at the day's end
    Seed("6b", "east", "dispatched", at(23, days=-1), at(8), due=at(8, days=1)),
    Seed("3a", "west", "new", at(9, days=1)),  # after the day: nowhere
    Seed("2a", "east", "closed", at(9, days=-3), at(10, days=-3), at(10, days=-1), at(9)),
    Seed("1a", None, "new", at(12)),  # not routed: the 未分配 row
    Seed("5a", "east", "cancelled", at(8, days=-2), at(9, days=-2), due=at(10, days=-2)),
    Seed("4a", "west", "dispatched", at(8, days=-10), at(9, days=-10), due=at(9, days=-9)),
    Seed("3b", "west", "closed", at(8, days=-9), at(9, days=-9), at(9, days=-8), at(10, days=-8)),
]
# (squad, standard) → (new, dispatched, rectified, closed, overdue) on DAY; every other cell is 0.
EXPECTED = {
    ("west", 3): (2, 2, 1, 0, 1),
    ("west", 4): (0, 0, 0, 0, 1),
    ("east", 6): (0, 1, 0, 0, 0),
    ("east", 2): (0, 0, 0, 1, 0),
    (None, 1): (1, 0, 0, 0, 0),
}
# Column totals on earlier days of the trend: (days before DAY, standard) → counts; others 0,
# except standard 4, overdue on every day (due on DAY-9, never rectified).
TREND = {
    (1, 6): (1, 0, 0, 0, 0),
    (1, 2): (0, 0, 1, 0, 0),
    (2, 5): (1, 1, 0, 0, 0),  # cancelled later: never overdue
    (3, 2): (1, 1, 0, 0, 0),
}
SQUADS = ("west", "east", "ktv")  # ktv has no tickets: a row of zeros


class Day:
    """The squads and the seeded tickets, their timestamps set directly."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.squads = {code: api.squad(code) for code in SQUADS}
        self.ids = [self.ticket(seed) for seed in SEEDS]

    def ticket(self, seed: Seed) -> int:
        body = {"clause": seed.clause, "description": "测试", "evidence": [sha(str(seed))]}
        tid = int(self.api.ok("POST", "/tickets", json=body)["id"])
        with self.api.services.sessions() as session:
            session.execute(
                update(Ticket)
                .where(Ticket.id == tid)
                .values(
                    squad_id=self.squads[seed.squad] if seed.squad else None,
                    status=seed.status,
                    created_at=seed.created,
                    dispatched_at=seed.dispatched,
                    rectified_at=seed.rectified,
                    closed_at=seed.closed,
                    due_at=seed.due,
                )
            )
            session.commit()
        return tid

    def report(self, day: date = DAY, actor: Any = None) -> Any:
        return self.api.ok("GET", "/reports/daily", actor, params={"day": day.isoformat()})

    def get(self, path: str, **params: Any) -> Any:
        response = self.api.client.get(path, headers=self.api.admin.headers, params=params)
        assert response.status_code == 200, response.text
        return response


@pytest.fixture
def day(api: Api) -> Day:
    return Day(api)


def numbers(counts: dict[str, Any]) -> tuple[int, ...]:
    return tuple(counts[f] for f in FIELDS)


def summed(groups: list[dict[str, Any]]) -> tuple[int, ...]:
    return tuple(sum(g[f] for g in groups) for f in FIELDS)


def test_the_grid_has_every_squad_and_standard_and_its_totals_add_up(day: Day) -> None:
    report = day.report()
    assert (report["day"], report["timezone"]) == ("2026-05-04", "Asia/Shanghai")
    assert [s["id"] for s in report["standards"]] == STANDARDS
    codes = {v: k for k, v in day.squads.items()}
    assert [(r["squad_id"], r["squad"]) for r in report["rows"]] == [
        *((day.squads[c], f"{c} 中队") for c in SQUADS),
        (None, "未分配"),
    ]
    for row in report["rows"]:
        squad = codes.get(row["squad_id"])
        assert [c["standard"] for c in row["cells"]] == STANDARDS
        for cell in row["cells"]:
            expected = EXPECTED.get((squad, cell["standard"]), (0, 0, 0, 0, 0))
            assert numbers(cell) == expected, (squad, cell["standard"])
        assert numbers(row["total"]) == summed(row["cells"])
    for index, column in enumerate(report["totals"]):
        assert column["standard"] == STANDARDS[index]
        assert numbers(column) == summed([r["cells"][index] for r in report["rows"]])
    assert (
        numbers(report["total"])
        == summed(report["totals"])
        == summed([r["total"] for r in report["rows"]])
    )
    assert numbers(report["total"]) == (3, 3, 1, 1, 2)


def test_cells_carry_mean_times_and_the_new_tickets_original_images(day: Day) -> None:
    [west] = [r for r in day.report()["rows"] if r["squad_id"] == day.squads["west"]]
    piling = west["cells"][STANDARDS.index(3)]
    assert (piling["mean_dispatch_min"], piling["mean_rectify_min"]) == (45.0, 120.0)
    assert [unsigned(url) for url in piling["evidence"]] == [
        f"http://shirong.test/evidence/{sha(str(seed))}/signed" for seed in SEEDS[:2]
    ]  # signed links, opening without a login: test_evidence_links
    assert west["total"]["mean_dispatch_min"] == 45.0  # the row's dispatches that day
    assert west["cells"][STANDARDS.index(4)]["evidence"] == []


def unsigned(url: str) -> str:
    """A signed evidence link without its expiry and signature (they change with the time)."""
    path, query = url.split("?")
    assert re.fullmatch(r"exp=\d+&sig=[\w-]{43}", query), url
    return path


def test_the_trend_is_each_days_column_totals(day: Day) -> None:
    report = day.report()
    trend = report["trend"]
    days = [(DAY - timedelta(days=n)).isoformat() for n in range(6, -1, -1)]
    assert [(p["day"], p["standard"]) for p in trend] == [(d, s) for d in days for s in STANDARDS]
    for point in trend:
        before = (DAY - date.fromisoformat(point["day"])).days
        expected = list(TREND.get((before, point["standard"]), (0, 0, 0, 0, 0)))
        if point["standard"] == 4:
            expected[4] = 1
        if before == 0:
            expected = list(numbers(report["totals"][STANDARDS.index(point["standard"])]))
        assert numbers(point) == tuple(expected), point
    for n in range(1, 7):  # the table of each earlier day agrees with the trend
        other = day.report(DAY - timedelta(days=n))
        points = [p for p in trend if p["day"] == other["day"]]
        assert [numbers(t) for t in other["totals"]] == [numbers(p) for p in points]


def test_squad_officers_get_their_squads_row(api: Api, day: Day) -> None:
    officer = api.actor(UserRole.SQUAD_OFFICER, day.squads["east"])
    report = day.report(actor=officer)
    assert [r["squad_id"] for r in report["rows"]] == [day.squads["east"]]
    assert numbers(report["total"]) == numbers(report["rows"][0]["total"]) == (0, 1, 0, 1, 0)


def test_a_day_without_tickets_is_a_grid_of_zeros(api: Api) -> None:
    api.squad("west")
    report = api.ok("GET", "/reports/daily", params={"day": "2020-01-01"})
    assert [r["squad"] for r in report["rows"]] == ["west 中队", "未分配"]
    cells = [c for r in report["rows"] for c in [*r["cells"], r["total"]]]
    assert len(cells) == 2 * (len(STANDARDS) + 1)
    assert {numbers(c) for c in [*cells, *report["totals"], report["total"]]} == {(0,) * 5}
    assert len(report["trend"]) == 7 * len(STANDARDS)
    page = api.client.get(
        "/reports/daily", headers=api.admin.headers, params={"day": "2020-01-01", "format": "html"}
    ).text
    assert page.count("<table") == 1 and "data:image/png;base64," in page


def csv_table(text: str) -> dict[tuple[str, str], list[str]]:
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == [
        "中队",
        "标准",
        "新增",
        "派发",
        "整改",
        "结案",
        "超期",
        "平均派发用时(分)",
        "平均整改用时(分)",
        "原图",
    ]
    table = {(r[0], r[1]): r[2:] for r in rows[1:]}
    assert len(table) == len(rows) - 1  # no line twice
    return table


def test_csv_has_a_line_per_cell_and_per_total_matching_the_json(day: Day) -> None:
    response = day.get("/reports/daily", day=DAY.isoformat(), format="csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="shirong-2026-05-04.csv"' in response.headers["content-disposition"]
    table = csv_table(response.content.decode("utf-8"))
    report = day.report()
    names = {s["id"]: f"{s['id']} {s['name_zh']}" for s in report["standards"]}
    expected: dict[tuple[str, str], list[str]] = {}
    for row in report["rows"]:
        for cell in row["cells"]:
            expected[(row["squad"], names[cell["standard"]])] = csv_numbers(cell, cell["evidence"])
        expected[(row["squad"], "合计")] = csv_numbers(row["total"], [])
    for column in report["totals"]:
        expected[("合计", names[column["standard"]])] = csv_numbers(column, [])
    expected[("合计", "合计")] = csv_numbers(report["total"], [])
    assert table == expected
    assert len(table) == 4 * (len(STANDARDS) + 1) + len(STANDARDS) + 1
    assert table[("west 中队", "3 无“乱堆乱放”")][:7] == ["2", "2", "1", "0", "1", "45.0", "120.0"]


def csv_numbers(counts: dict[str, Any], evidence: list[str]) -> list[str]:
    means = [counts["mean_dispatch_min"], counts["mean_rectify_min"]]
    return [
        *(str(counts[f]) for f in FIELDS),
        *("" if m is None else f"{m:.1f}" for m in means),
        " ".join(evidence),
    ]


def test_html_is_the_grid_with_totals_and_the_trend_chart(day: Day) -> None:
    response = day.get("/reports/daily", day=DAY.isoformat(), format="html")
    page = response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<meta charset="utf-8">' in page and "市容秩序日报 2026-05-04" in page
    assert page.count("<table") == 1
    parsed = Tables()
    parsed.feed(page)
    report = day.report()
    head = parsed.sections["thead"]
    assert head[0] == [
        "中队",
        *(f"{s['id']} {s['name_zh']}" for s in report["standards"]),
        "合计",
        "原图",
    ]
    assert head[1] == ["新增", "派发", "整改", "结案", "超期"] * (len(STANDARDS) + 1)
    groups = len(STANDARDS) + 1
    for html_row, row in zip(parsed.sections["tbody"], report["rows"], strict=True):
        assert html_row[0] == row["squad"]
        values = [str(v) for c in [*row["cells"], row["total"]] for v in numbers(c)]
        assert html_row[1 : 1 + 5 * groups] == values
    [foot] = parsed.sections["tfoot"]
    assert foot[0] == "合计"
    assert foot[1 : 1 + 5 * groups] == [
        str(v) for c in [*report["totals"], report["total"]] for v in numbers(c)
    ]
    evidence = [url for r in report["rows"] for c in r["cells"] for url in c["evidence"]]
    assert [unsigned(u) for u in parsed.links] == [unsigned(u) for u in evidence]
    assert len(evidence) == 3
    [chart] = parsed.images
    assert chart.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(chart.removeprefix("data:image/png;base64,"))))
    assert image.format == "PNG" and image.width >= 800


def test_the_chart_endpoint_gives_a_png_or_an_svg(day: Day) -> None:
    png = day.get("/reports/daily/chart", day=DAY.isoformat())
    assert png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    image.verify()
    assert image.format == "PNG" and image.size[0] >= 800 and image.size[1] >= 400
    svg = day.get("/reports/daily/chart", day=DAY.isoformat(), format="svg", lang="en")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(svg.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "No disorderly piling" in svg.text  # text drawn as paths, its string kept as a comment


def test_chinese_labels_have_glyphs_in_the_font_the_chart_uses() -> None:
    """No empty boxes: every character of the Chinese labels is in the font found."""
    path = cjk_font_file()
    assert path is not None and path.startswith("/usr/share/fonts/opentype/noto/")
    font = FT2Font(path)
    labels = "".join(s.name_zh for s in default_taxonomy().standards) + "".join(
        zh for _, zh, _ in METRICS
    )
    labels += "近日趋势至"
    missing = [
        ch for ch in set(re.sub(r"[\s“”0-9-]", "", labels)) if not font.get_char_index(ord(ch))
    ]
    assert missing == []


def test_without_the_cjk_font_the_chart_is_labelled_in_english(
    day: Day, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_chart, "cjk_font_file", lambda: None)
    svg = day.get("/reports/daily/chart", day=DAY.isoformat(), format="svg").text
    assert "No disorderly piling" in svg and "乱堆乱放" not in svg


@pytest.mark.parametrize(
    "params",
    [{"day": "1999-12-31"}, {"format": "gif"}, {"lang": "fr"}, {"day": "2026-02-30"}],
)
def test_bad_chart_requests_are_422(api: Api, params: dict[str, str]) -> None:
    response = api.client.get("/reports/daily/chart", headers=api.admin.headers, params=params)
    assert response.status_code == 422, response.text


def test_metrics(api: Api) -> None:
    post_record(api, make_record())
    post_record(api, make_record())
    api.ok("POST", "/tickets", json={"clause": "6b", "description": "流浪犬"})
    response = api.client.get("/metrics", headers=api.admin.headers)
    assert response.headers["content-type"].startswith("text/plain")
    lines = set(response.text.splitlines())
    assert 'shirong_tickets{status="new"} 1.0' in lines
    assert 'shirong_incidents{status="pending"} 1.0' in lines
    assert any(
        line.startswith('shirong_incidents_ingested_total{result="duplicate"}') for line in lines
    )
