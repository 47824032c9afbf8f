"""Recurrence where people work: a ticket still seen (仍存在) and one that came back (复发) on the
ticket board, and a reviewer lifting the suppression of a rejected incident."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from serving.db.base import utcnow
from serving.db.models import Review, Ticket
from tests.serving.helpers import PASSWORD
from tests.ui.helpers import LiveService, incident, ingest, open_as, serve

pytestmark = pytest.mark.slow

WALL = (60.0, 120.0, 140.0, 210.0)  # one place in the frame: records there are one situation


def seen(live: LiveService, n: int, camera: str) -> int:
    """Record ``n`` of the wall a fixed camera (no GPS) sees; the incident it went to."""
    return ingest(live, n, camera, region=WALL, location=None)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The live service with recurrence on (the UI conftest's default turns it off)."""
    with serve(tmp_path_factory.mktemp("recurrence"), recurrence_window_hours=24) as service:
        yield service


def review(live: LiveService, incident_id: int, **body: Any) -> dict[str, Any]:
    """A decision through the API as the reviewer."""
    with httpx.Client(base_url=live.url) as client:
        login = client.post("/auth/login", data={"username": "reviewer", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        out = client.post(f"/incidents/{incident_id}/reviews", json=body, headers=headers)
        assert out.status_code == 200, out.text
        result: dict[str, Any] = out.json()
        return result


def close(live: LiveService, ticket_id: int) -> None:
    """The ticket as its lifecycle leaves it once rectified and closed."""
    with live.services.sessions() as session:
        closed = {"status": "closed", "closed_at": utcnow()}
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**closed))
        session.commit()


def test_the_board_shows_a_ticket_still_seen_and_the_ticket_it_came_back_after(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    first = seen(live, 61, "cam-east")
    earlier = review(live, first, action="confirm")["ticket_id"]
    close(live, earlier)
    again = seen(live, 62, "cam-east")  # back after the close: 复发
    assert incident(live, again).recurrence_of_id == first
    ticket = review(live, again, action="confirm")["ticket_id"]
    assert seen(live, 63, "cam-east") == again  # still there: 仍存在, no ticket

    page = open_as(browser, live, "dispatcher", f"#/tickets/{ticket}")
    page.wait_for_selector(f"#ticket-list tr[data-id='{ticket}'].current")
    detail = page.locator("#ticket-detail")
    assert "开单后又发现 1 次" in page.locator("#still-present").inner_text()
    page.wait_for_selector("#observation-evidence img[src^='blob:']")
    assert detail.locator("span.recurrence").inner_text() == "复发"
    link = page.locator(f"#ticket-history a[data-ticket='{earlier}']")
    assert link.inner_text().startswith(f"工单 #{earlier}（已结案")
    page.screenshot(path=artifacts / "tickets-recurrence.png", full_page=True)

    page.select_option("#ticket-filters select[name=status]", "new")  # the earlier one is closed
    page.click("#ticket-filters button[type=submit]")
    page.wait_for_selector(f"#ticket-list tr[data-id='{earlier}']", state="detached")
    page.click(f"#ticket-history a[data-ticket='{earlier}']")
    page.wait_for_selector(f"#ticket-detail .toolbar strong:text-is('#{earlier}')")
    assert page.locator(f"#ticket-list tr[data-id='{earlier}'].current").count() == 1
    assert page.url.endswith(f"#/tickets/{earlier}")
    assert detail.locator(".toolbar [data-status=closed]").count() == 1
    page.go_back()  # the board opens the recurrence ticket again
    page.wait_for_selector(f"#ticket-detail .toolbar strong:text-is('#{ticket}')")

    page.click("#lang")
    page.get_by_text("seen 1× since the ticket was opened").wait_for()
    assert "Recurrence of" in detail.inner_text()
    page.screenshot(path=artifacts / "tickets-recurrence-en.png")
    assert page.errors == []
    page.context.close()


def test_a_reviewer_lifts_the_suppression_of_a_rejected_incident(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    rejected = seen(live, 71, "cam-west")
    review(live, rejected, action="reject", reason="false_positive")
    for n in (72, 73):  # seen again at the same confidence: suppressed, not queued
        assert seen(live, n, "cam-west") == rejected

    page = open_as(browser, live, "reviewer", f"#/review/{rejected}")
    page.wait_for_selector(f"#queue tr[data-id='{rejected}'].current")
    notice = page.locator("#suppression")
    assert notice.inner_text().startswith("已抑制 2 次")
    page.screenshot(path=artifacts / "review-suppressed.png")
    with page.expect_response(lambda r: r.url.endswith("/suppression")) as answer:
        page.click("#lift-suppression")
    assert answer.value.status == 200
    page.wait_for_selector("#suppression:has-text('解除抑制')")
    assert page.locator("#lift-suppression").count() == 0
    page.screenshot(path=artifacts / "review-suppression-lifted.png")
    assert incident(live, rejected).suppression_lifted_at is not None
    with live.services.sessions() as session:
        actions = session.scalars(select(Review.action).where(Review.incident_id == rejected))
        assert list(actions) == ["reject", "lift_suppression"]
    assert seen(live, 74, "cam-west") != rejected  # queued again
    assert page.errors == []
    page.context.close()
