"""Browser-test steps several UI test modules share: seed an incident, open the UI as a user,
confirm it, act on a ticket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from serving.db.models import Incident
from serving.services import incidents
from serving.services.recurrence import Recurrence
from tests.serving.helpers import PASSWORD, evidence_record
from tests.ui.conftest import WAIT_MS, LiveService


def ingest(live: LiveService, n: int, camera: str, **fields: Any) -> int:
    """Store a rules-engine record with a real evidence frame; returns the incident id."""
    record = evidence_record(live.services.store, n, source_id=camera, **fields)
    with live.services.sessions() as session:
        policy = Recurrence.of(live.services.settings)
        incident, _ = incidents.ingest(session, live.services.taxonomy, record, policy)
        return incident.id


def incident(live: LiveService, incident_id: int) -> Incident:
    with live.services.sessions() as session:
        row = session.get(Incident, incident_id)
        assert row is not None
        session.expunge(row)
        return row


def open_as(browser: Any, live: LiveService, username: str, hash_: str = "") -> Any:
    """A fresh browser context (own localStorage), logged in through the login form."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 950}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live.url}/{hash_}")
    assert page.url.startswith(f"{live.url}/ui/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")
    page.errors = errors
    return page


def review_response(page: Any) -> Any:
    return page.expect_response(lambda r: "/reviews" in r.url and r.request.method == "POST")


def confirm(live: LiveService, incident_id: int) -> int:
    """Confirm through the API as the reviewer; returns the ticket id."""
    with httpx.Client(base_url=live.url) as client:
        token = client.post("/auth/login", data={"username": "reviewer", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        out = client.post(
            f"/incidents/{incident_id}/reviews", json={"action": "confirm"}, headers=headers
        )
        assert out.status_code == 200, out.text
        return int(out.json()["ticket_id"])


def act(page: Any, action: str, status: str) -> None:
    with page.expect_response(lambda r: r.url.endswith(f"/{action}")):
        page.click(f"[data-action={action}]")
    page.wait_for_selector(f"#ticket-detail [data-status={status}]")


@contextmanager
def client_as(live: LiveService, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url) as client:
        token = client.post("/auth/login", data={"username": username, "password": PASSWORD})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client
