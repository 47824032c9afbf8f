"""The reviewer's day: the queue refreshes itself (ETag polling) without losing their place, rows
show when and which camera, and the audit trail names people."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from serving.db.models import User
from tests.serving.helpers import evidence_record
from tests.ui.helpers import LiveService, client_as, confirm, ingest, open_as

pytestmark = pytest.mark.slow


def post_incident(live: LiveService, n: int, camera: str, **fields: Any) -> int:
    """POST a rules-engine record through the API, as a camera pipeline would."""
    record = evidence_record(live.services.store, n, source_id=camera, **fields)
    with client_as(live, "dispatcher") as client:
        response = client.post(
            "/incidents",
            content=record.to_json(),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def list_time(at: datetime) -> str:
    """What the queue shows for ``at`` in Shanghai (the browser's zone): dom.js shortTime."""
    local, now = at.astimezone(ZoneInfo("Asia/Shanghai")), datetime.now(ZoneInfo("Asia/Shanghai"))
    if local.date() == now.date():
        return local.strftime("%H:%M")
    return local.strftime("%m-%d %H:%M" if local.year == now.year else "%Y-%m-%d %H:%M")


def test_the_queue_refreshes_itself_and_the_reviewer_keeps_their_place(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    first, second = ingest(live, 61, "cam-east"), ingest(live, 62, "cam-east")
    page = open_as(browser, live, "reviewer", f"#/review/{second}")
    page.wait_for_selector(f"#queue tr[data-id='{second}'].current")
    page.check(f"#queue tr[data-id='{first}'] input[type=checkbox]")
    page.select_option("#reject-reason", "duplicate")
    # The page polls every 5 s; each wait below is for one of its polls.
    with page.expect_response(lambda r: "/incidents?" in r.url and r.status == 304) as unchanged:
        pass
    assert unchanged.value.request.headers["if-none-match"].startswith('W/"')

    seen = datetime(2026, 5, 4, 6, 30, tzinfo=UTC)  # 14:30-14:35 in Shanghai
    new = post_incident(live, 63, "cam-west", first_seen=seen)
    row = page.locator(f"#queue tr[data-id='{new}']")
    row.wait_for()
    assert page.locator("#queue tr.current").get_attribute("data-id") == str(second)
    assert page.is_checked(f"#queue tr[data-id='{first}'] input[type=checkbox]")
    assert page.locator("#reject-reason").input_value() == "duplicate"
    assert page.url.endswith(f"#/review/{second}")
    meta = row.locator(".meta")
    assert meta.locator("time").inner_text() == list_time(seen.replace(minute=35))
    assert meta.locator(".source").inner_text() == "测试摄像头"
    assert "cam-west" in (meta.get_attribute("title") or "")
    page.screenshot(path=artifacts / "review-refreshed.png")

    confirm(live, second)  # another reviewer decides the item shown: the detail follows
    page.wait_for_selector("#detail [data-status=confirmed]")
    assert page.locator("#queue tr.current").get_attribute("data-id") == str(second)
    assert page.locator("#accept").is_disabled()
    assert page.errors == []
    page.context.close()


def test_the_audit_trail_names_who_acted(browser: Any, live: LiveService, artifacts: Path) -> None:
    with live.services.sessions() as session:
        session.execute(
            update(User).where(User.username == "dispatcher").values(full_name="张调度")
        )
        session.commit()
    ticket = confirm(live, ingest(live, 64, "cam-east"))  # created by "reviewer" (no full name)
    page = open_as(browser, live, "dispatcher", f"#/tickets/{ticket}")
    page.wait_for_selector(f"#ticket-list tr[data-id='{ticket}'].current")
    with page.expect_response(lambda r: r.url.endswith("/dispatch")):
        page.click("[data-action=dispatch]")
    events = page.locator("#ticket-detail ol.events li")
    events.nth(1).wait_for()
    assert events.nth(0).locator(".actor").inner_text() == " · reviewer"
    assert events.nth(1).locator(".actor").inner_text() == " · 张调度"
    assert events.nth(1).locator(".actor").get_attribute("title") == "dispatcher"
    assert "#" not in page.locator("#ticket-detail ol.events").inner_text()
    page.screenshot(path=artifacts / "tickets-audit-names.png", full_page=True)
    assert page.errors == []
    page.context.close()
