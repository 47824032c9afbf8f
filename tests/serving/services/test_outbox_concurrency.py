"""Exactly-once delivery when rounds run at once: the worker, ``POST /outbox/deliver``, a crash.

Every test runs on SQLite and PostgreSQL against a real receiver on loopback that holds each
answer back a little, so that concurrent rounds overlap; the counts hold however they interleave.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from serving.app import create_app
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import DeliveryAttempt
from serving.services.outbox import INTERRUPTED, DeliveryRound, deliver_due
from tests.serving.helpers import Api, Receiver, _free_port, make_settings

ROUNDS = 4  # three delivery rounds in threads, one through the admin route


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver(_free_port())
    yield hook
    hook.stop()


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """Backoff and lease long enough that a slow test run never sees them run out unasked."""
    settings = make_settings(database_url, tmp_path, dispatch_backoff_s=600, dispatch_lease_s=600)
    with TestClient(create_app(settings)) as client:
        yield Api(client)


def _messages(api: Api, receiver: Receiver, count: int) -> list[dict[str, Any]]:
    receiver.delay_s = 0.05
    body = {"name": "群", "url": receiver.url, "events": ["ticket.created"]}
    api.ok("POST", "/webhooks", json=body)
    for _ in range(count):
        api.ok("POST", "/tickets", json={"clause": "6b", "description": "流浪犬"})
    return _outbox(api)


def _outbox(api: Api) -> list[dict[str, Any]]:
    return sorted(api.ok("GET", "/outbox"), key=lambda m: m["id"])


def _deliver(api: Api, at: datetime | None = None, client: httpx.Client | None = None) -> int:
    services = api.services
    with client or httpx.Client() as http:
        return deliver_due(services.sessions, services.settings, http, at).delivered


def _concurrently(api: Api, later: timedelta = timedelta(0)) -> int:
    """ROUNDS delivery rounds started together; returns how many messages they delivered."""
    at = utcnow() + later
    start = threading.Barrier(ROUNDS)
    delivered: list[int] = []
    errors: list[Exception] = []

    def run(deliver: Callable[[], int]) -> None:
        start.wait()
        try:
            delivered.append(deliver())
        except Exception as exc:
            errors.append(exc)

    def route() -> int:
        return int(api.ok("POST", "/outbox/deliver")["delivered"])

    rounds: list[Callable[[], int]] = [lambda: _deliver(api, at)] * (ROUNDS - 1)
    rounds.append(route if later == timedelta(0) else rounds[0])  # the route runs at real time
    threads = [threading.Thread(target=run, args=(deliver,)) for deliver in rounds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return sum(delivered)


def _keys(receiver: Receiver) -> Counter[str]:
    return Counter(headers["Idempotency-Key"] for headers, _ in receiver.requests)


def _log(api: Api) -> Counter[int]:
    with api.services.sessions() as session:
        return Counter(session.scalars(select(DeliveryAttempt.outbox_id)))


def test_concurrent_rounds_post_each_message_once(api: Api, receiver: Receiver) -> None:
    receiver.start()
    messages = _messages(api, receiver, 8)
    assert _concurrently(api) == 8
    assert _keys(receiver) == Counter({m["idempotency_key"]: 1 for m in messages})
    assert {(m["status"], m["attempts"]) for m in _outbox(api)} == {("delivered", 1)}
    assert _log(api) == Counter({m["id"]: 1 for m in messages})
    assert _concurrently(api, timedelta(days=1)) == 0 and len(receiver.requests) == 8


def test_failures_are_retried_once_each_after_the_backoff(api: Api, receiver: Receiver) -> None:
    receiver.start()
    receiver.default = (503, {})
    messages = _messages(api, receiver, 6)
    assert _concurrently(api) == 0
    assert len(receiver.requests) == 6  # one attempt each, however many rounds ran
    assert {(m["status"], m["attempts"]) for m in _outbox(api)} == {("pending", 1)}
    assert all(m["last_error"].startswith("HTTP 503") for m in _outbox(api))
    assert _concurrently(api) == 0 and len(receiver.requests) == 6  # backing off
    receiver.default = (200, {})
    assert _concurrently(api, timedelta(hours=1)) == 6
    assert _keys(receiver) == Counter({m["idempotency_key"]: 2 for m in messages})
    assert {(m["status"], m["attempts"]) for m in _outbox(api)} == {("delivered", 2)}
    assert _log(api) == Counter({m["id"]: 2 for m in messages})


class CrashError(Exception):
    """The process dies: after the receiver got the POST, before the outcome is stored."""


class DyingTransport(httpx.HTTPTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        super().handle_request(request).read()
        raise CrashError


def test_a_send_cut_short_is_resent_once_after_the_lease(api: Api, receiver: Receiver) -> None:
    receiver.start()
    first, *others = _messages(api, receiver, 3)
    with pytest.raises(CrashError):
        _deliver(api, client=httpx.Client(transport=DyingTransport()))
    [claimed] = api.ok("GET", "/outbox", params={"status": "sending"})
    assert (claimed["id"], claimed["attempts"]) == (first["id"], 1)
    assert _concurrently(api) == 2  # the others; the claimed one waits for its lease
    assert _keys(receiver) == Counter({m["idempotency_key"]: 1 for m in [first, *others]})
    lease = api.services.settings.dispatch_lease_s
    assert _concurrently(api, timedelta(seconds=lease / 2)) == 0
    assert _concurrently(api, timedelta(seconds=lease + 5)) == 1
    assert _keys(receiver)[first["idempotency_key"]] == 2
    assert len(receiver.requests) == 4
    assert (_outbox(api)[0]["status"], _outbox(api)[0]["attempts"]) == ("delivered", 2)
    assert _log(api)[first["id"]] == 1  # the crashed attempt left no outcome to log
    assert _concurrently(api, timedelta(days=1)) == 0 and len(receiver.requests) == 4


def test_a_crash_on_the_last_attempt_fails_the_message(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.start()
    settings = make_settings(database_url, tmp_path, dispatch_max_attempts=1)
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        _messages(api, receiver, 1)
        with pytest.raises(CrashError):
            _deliver(api, client=httpx.Client(transport=DyingTransport()))
        assert _concurrently(api, timedelta(seconds=settings.dispatch_lease_s + 5)) == 0
        [message] = _outbox(api)
    assert (message["status"], message["attempts"], message["last_error"]) == (
        "failed",
        1,
        INTERRUPTED,
    )
    assert len(receiver.requests) == 1


def test_an_outcome_after_the_lease_ran_out_changes_nothing(api: Api, receiver: Receiver) -> None:
    """A send slower than its lease is repeated by another round; the late 503 is only logged."""
    receiver.start()
    receiver.answers = [(503, {})]  # the slow first send fails; the repeat succeeds
    [message] = _messages(api, receiver, 1)
    lease = timedelta(seconds=api.services.settings.dispatch_lease_s)
    repeats: list[DeliveryRound] = []

    class Overtaken(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            services = api.services  # while this send is "still running", its lease runs out
            with httpx.Client() as other:
                later = utcnow() + lease + timedelta(seconds=5)
                repeats.append(deliver_due(services.sessions, services.settings, other, later))
            return response

    assert _deliver(api, client=httpx.Client(transport=Overtaken())) == 0
    assert repeats == [DeliveryRound(attempted=1, delivered=1)]
    [after] = _outbox(api)
    assert (after["status"], after["attempts"], after["last_error"]) == ("delivered", 2, None)
    assert _keys(receiver) == Counter({message["idempotency_key"]: 2})
    log = api.ok("GET", f"/outbox/{message['id']}/attempts")
    assert sorted(a["status_code"] for a in log) == [200, 503]


def test_the_lease_must_outlast_the_http_timeout() -> None:
    with pytest.raises(ValidationError, match=r"dispatch_lease_s \(30.0\) must exceed"):
        Settings(secret_key="x" * 32, dispatch_timeout_s=30, dispatch_lease_s=30)
