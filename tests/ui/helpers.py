"""What several UI test modules share: the live service on a loopback port with its squads and
users, and the browser steps: seed an incident, open the UI as someone, confirm, act on a ticket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from serving.api.deps import Services
from serving.app import create_app
from serving.db.models import Incident, UserRole
from serving.schemas.auth import UserCreate
from serving.schemas.squads import SquadIn
from serving.services import incidents
from serving.services.recurrence import Recurrence
from serving.services.squads import create_squad
from serving.services.users import create_user
from tests.conftest import WAIT_S
from tests.serving.helpers import PASSWORD, evidence_record, make_settings, uvicorn_thread

WAIT_MS = int(WAIT_S * 1000)  # every Playwright wait's bound (its default timeout), in its unit


@dataclass(frozen=True)
class LiveService:
    url: str
    services: Services
    squads: dict[str, int]  # squad code → id; each squad owns one camera, named cam-<code>


def _seed(services: Services) -> dict[str, int]:
    """Two area squads, each owning one camera, and one user per role (password PASSWORD)."""
    squads = {}
    with services.sessions() as session:
        for code, name in (("east", "东区派驻中队"), ("west", "西区派驻中队")):
            data = {"code": code, "name": name, "kind": "area", "cameras": [f"cam-{code}"]}
            squad = create_squad(session, SquadIn.model_validate(data))
            squads[code] = squad.id
        users = [
            ("reviewer", UserRole.REVIEWER, None),
            ("dispatcher", UserRole.DISPATCHER, None),
            ("officer_east", UserRole.SQUAD_OFFICER, squads["east"]),
            ("officer_west", UserRole.SQUAD_OFFICER, squads["west"]),
        ]
        for username, role, squad_id in users:
            create_user(
                session,
                services.passwords,
                UserCreate(username=username, password=PASSWORD, role=role, squad_id=squad_id),
            )
        session.commit()
    return squads


@contextmanager
def serve(root: Path, **overrides: Any) -> Iterator[LiveService]:
    """The service on a free loopback port, SQLite under ``root``, settings ``overrides``."""
    overrides.setdefault("camera_workers", False)
    settings = make_settings(f"sqlite:///{root / 'shirong.db'}", root, **overrides)
    app: FastAPI = create_app(settings)
    services: Services = app.state.services
    with uvicorn_thread(app) as port:
        yield LiveService(f"http://127.0.0.1:{port}", services, _seed(services))


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


# Runs before any page script (Playwright injects it, so the policy does not apply to it).
RECORD_VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
"""
