"""Outbox and webhook delivery against a real HTTP receiver on loopback that is down, then up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from serving.app import create_app
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import OutboxMessage
from serving.services.outbox import backoff, deliver_due
from tests.conftest import wait_until
from tests.serving.helpers import Api, Receiver, _free_port, make_settings


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver(_free_port())  # nothing listens there yet: the receiver is down
    yield hook
    hook.stop()


def _ticket(api: Api, squad: int) -> int:
    body = {
        "clause": "5a",
        "description": "乱拉条幅",
        "location": {"lat": 36.05, "lon": 120.05},
        "complaint": False,
        "observed_at": "2026-05-04T22:00:00+08:00",
    }
    ticket = api.ok("POST", "/tickets", json=body)
    api.ok("POST", f"/tickets/{ticket['id']}/dispatch", json={"squad_id": squad, "note": "速办"})
    return int(ticket["id"])


def _deliver(api: Api, later: timedelta = timedelta(0)) -> tuple[int, int]:
    services = api.services
    with httpx.Client() as client:
        done = deliver_due(services.sessions, services.settings, client, utcnow() + later)
    return done.attempted, done.delivered


def test_a_receiver_that_is_down_loses_nothing(api: Api, receiver: Receiver) -> None:
    squad = api.squad("west")
    api.ok("POST", "/webhooks", json={"name": "群", "url": receiver.url})
    tid = _ticket(api, squad)
    assert _deliver(api) == (2, 0)  # created + dispatch, both refused
    outbox = api.ok("GET", "/outbox")
    assert {(m["event"], m["status"], m["attempts"]) for m in outbox} == {
        ("ticket.created", "pending", 1),
        ("ticket.dispatch", "pending", 1),
    }
    assert all("ConnectError" in m["last_error"] for m in outbox)
    assert _deliver(api) == (0, 0)  # backing off: nothing is due yet
    receiver.start()
    assert _deliver(api, later=timedelta(hours=1)) == (2, 2)
    assert [body["event"] for _, body in receiver.requests] == ["ticket.created", "ticket.dispatch"]
    keys = {m["idempotency_key"] for m in api.ok("GET", "/outbox")}
    assert {headers["Idempotency-Key"] for headers, _ in receiver.requests} == keys
    dispatch = receiver.requests[1][1]
    assert dispatch["ticket"]["id"] == tid and dispatch["ticket"]["status"] == "dispatched"
    assert dispatch["note"] == "速办"
    log = api.ok("GET", f"/outbox/{outbox[0]['id']}/attempts")
    assert [a["status_code"] for a in log] == [None, 200]
    assert _deliver(api, later=timedelta(days=1)) == (0, 0)  # delivered once, not again


def test_server_errors_are_retried_with_backoff(api: Api, receiver: Receiver) -> None:
    receiver.start()
    receiver.answers = [(503, {}), (500, {})]
    api.ok(
        "POST", "/webhooks", json={"name": "群", "url": receiver.url, "events": ["ticket.created"]}
    )
    api.ok("POST", "/tickets", json={"clause": "6b", "description": "流浪犬"})
    assert _deliver(api) == (1, 0)
    base = api.services.settings.dispatch_backoff_s
    assert _deliver(api, timedelta(seconds=base - 1)) == (0, 0)
    assert _deliver(api, timedelta(seconds=base + 1)) == (1, 0)  # second failure: 2x base now
    assert _deliver(api, timedelta(seconds=base + 1 + 2 * base - 2)) == (0, 0)
    assert _deliver(api, timedelta(seconds=base + 1 + 2 * base + 1)) == (1, 1)
    assert len({headers["Idempotency-Key"] for headers, _ in receiver.requests}) == 1


def test_wecom_markdown_and_errcode(api: Api, receiver: Receiver) -> None:
    receiver.start()
    receiver.answers = [(200, {"errcode": 93000, "errmsg": "invalid webhook url"})]
    api.ok(
        "POST",
        "/webhooks",
        json={
            "name": "企业微信",
            "url": receiver.url,
            "format": "wecom",
            "events": ["ticket.dispatch"],
        },
    )
    squad = api.squad("west")
    _ticket(api, squad)
    assert _deliver(api) == (1, 0)
    assert "WeCom errcode 93000" in api.ok("GET", "/outbox")[0]["last_error"]
    assert _deliver(api, timedelta(hours=1)) == (1, 1)
    _, message = receiver.requests[-1]
    assert set(message) == {"msgtype", "markdown"} and message["msgtype"] == "markdown"
    content = message["markdown"]["content"]
    assert content.startswith("**【普通】工单 #1 已派发**")  # the UI's words (labels.json)
    assert "> 标准：无“乱拉乱挂” 5a 乱拉条幅" in content
    assert "> 中队：west 中队" in content and "> 备注：速办" in content
    assert "> 位置：(36.05000, 120.05000)" in content
    assert re.search(r"> 期限：\d{4}-\d\d-\d\d \d\d:\d\d\n", content)


def test_gives_up_after_max_attempts(database_url: str, tmp_path: Path, receiver: Receiver) -> None:
    settings = make_settings(database_url, tmp_path, dispatch_max_attempts=2)
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        api.ok("POST", "/webhooks", json={"name": "x", "url": receiver.url})
        api.ok("POST", "/tickets", json={"clause": "6b", "description": "流浪犬"})
        assert _deliver(api) == (1, 0)
        assert _deliver(api, timedelta(days=1)) == (1, 0)
        assert [m["status"] for m in api.ok("GET", "/outbox")] == ["failed"]
        assert _deliver(api, timedelta(days=2)) == (0, 0)


def test_squad_webhooks_get_only_their_squads_tickets(api: Api, receiver: Receiver) -> None:
    west, east = api.squad("west"), api.squad("east")
    api.ok(
        "POST",
        "/webhooks",
        json={"name": "东", "url": receiver.url, "squad_id": east, "events": ["ticket.dispatch"]},
    )
    _ticket(api, west)
    _ticket(api, east)
    assert [m["ticket_id"] for m in api.ok("GET", "/outbox")] == [2]


def test_a_refused_change_writes_no_outbox_message(api: Api, receiver: Receiver) -> None:
    api.ok("POST", "/webhooks", json={"name": "x", "url": receiver.url})
    ticket = api.ok("POST", "/tickets", json={"clause": "6b", "description": "流浪犬"})
    before = _count(api)
    response = api.client.post(f"/tickets/{ticket['id']}/close", headers=api.admin.headers, json={})
    assert response.status_code == 409
    assert _count(api) == before == 1


def _count(api: Api) -> int:
    with api.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 10), (2, 20), (3, 40), (9, 2560), (12, 3600)]
)
def test_backoff_doubles_up_to_an_hour(attempts: int, seconds: float) -> None:
    settings = Settings(secret_key="x" * 32, dispatch_backoff_s=10)
    assert backoff(settings, attempts) == timedelta(seconds=seconds)


def test_the_worker_started_with_the_app_delivers(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.start()
    settings = make_settings(database_url, tmp_path, dispatch_worker=True, dispatch_poll_s=0.05)
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        api.ok("POST", "/webhooks", json={"name": "x", "url": receiver.url})
        api.ok("POST", "/tickets", json={"clause": "6b", "description": "流浪犬"})
        wait_until(lambda: receiver.requests, "the worker's delivery")
    assert [body["event"] for _, body in receiver.requests] == ["ticket.created"]


def test_deliver_now_route(api: Api, receiver: Receiver) -> None:
    receiver.start()
    api.ok("POST", "/webhooks", json={"name": "x", "url": receiver.url})
    api.ok("POST", "/tickets", json={"clause": "6b", "description": "流浪犬"})
    assert api.ok("POST", "/outbox/deliver") == {"attempted": 1, "delivered": 1}
    assert api.ok("GET", "/outbox", params={"status": "delivered"})[0]["attempts"] == 1


def test_webhook_validation_and_deactivation(api: Api, receiver: Receiver) -> None:
    bad = api.client.post(
        "/webhooks",
        headers=api.admin.headers,
        json={"name": "x", "url": receiver.url, "events": ["ticket.exploded"]},
    )
    assert bad.status_code == 422 and "unknown events: ticket.exploded" in bad.text
    hook = api.ok("POST", "/webhooks", json={"name": "x", "url": receiver.url})
    api.ok("DELETE", f"/webhooks/{hook['id']}")
    api.ok("POST", "/tickets", json={"clause": "6b", "description": "流浪犬"})
    assert api.ok("GET", "/outbox") == []
    assert api.client.delete("/webhooks/99", headers=api.admin.headers).status_code == 404
