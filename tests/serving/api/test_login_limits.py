"""Login abuse: a per-IP budget over all usernames that throttles guesses, not people, a bound on
concurrent password hashes, and X-Forwarded-For believed only from trusted proxies, with a
warning when an untrusted peer sends it (a real ``shirong serve`` on loopback and the ASGI app)."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from detection.errors import ConfigError
from serving.api import proxies
from serving.app import create_app
from serving.config import Settings, load_settings
from serving.db.models import UserRole
from serving.services.auth import Passwords
from tests.serving.helpers import PASSWORD, Api, make_settings, shirong_serve

HASH_MIB = 64  # the default argon2_memory_kib, which the live tests keep


def login(client: TestClient | httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/auth/login", data={"username": username, "password": password})


def test_a_spent_address_budget_refuses_guesses_not_people(
    api: Api, client: TestClient, settings: Settings
) -> None:
    """New usernames buy no new guesses: past the budget each account gets one try from the
    address. Accounts with no failure there, admins too, log in with the right password."""
    reviewer, admin, typist = (
        api.actor(role) for role in (UserRole.REVIEWER, UserRole.ADMIN, UserRole.DISPATCHER)
    )
    budget = settings.login_max_failures_per_ip
    assert budget > settings.login_max_failures  # the default; otherwise this tests the other lock
    for i in range(budget):
        assert login(client, f"guess{i}", "wrong password!").status_code == 401
    refused = login(client, "guess0", "wrong password!")  # failed here before: no second try
    assert refused.status_code == 429
    assert refused.json() == {
        "detail": "too many failed logins from this address; try again later",
        "code": "login_rate_limited",
        "params": {"retry_after_s": int(refused.headers["retry-after"])},
    }
    assert 1 <= int(refused.headers["retry-after"]) <= settings.login_window_s
    # (who, password, answer): each in turn, from the spent address
    attempts = [
        (reviewer.username, PASSWORD, 200),
        (admin.username, PASSWORD, 200),
        (reviewer.username, PASSWORD, 200),  # a success leaves no failure behind
        ("nobody-yet", PASSWORD, 401),  # an unknown name is checked as a known one is
        ("nobody-yet", PASSWORD, 429),
        (typist.username, "wrong password!", 401),  # one try, and that was it
        (typist.username, PASSWORD, 429),
    ]
    answers = [(name, pw, login(client, name, pw).status_code) for name, pw, _ in attempts]
    assert answers == attempts
    with TestClient(client.app, client=("192.0.2.7", 40000)) as elsewhere:
        assert login(elsewhere, typist.username, PASSWORD).status_code == 200


@dataclass
class HeldHashes:
    """Passwords.verify made to wait, for the password HOLD, until ``release`` is set."""

    release: threading.Event
    inside: threading.Semaphore  # one token per check that has started
    most_at_once: int = 0
    now: int = 0


HOLD = "hold this check"


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldHashes]:
    state = HeldHashes(threading.Event(), threading.Semaphore(0))
    lock = threading.Lock()
    verify = Passwords.verify

    def held_verify(self: Passwords, stored_hash: str | None, password: str) -> bool:
        with lock:
            state.now += 1
            state.most_at_once = max(state.most_at_once, state.now)
        state.inside.release()
        if password == HOLD:
            state.release.wait(timeout=60)
        try:
            return verify(self, stored_hash, password)
        finally:
            with lock:
                state.now -= 1

    monkeypatch.setattr(Passwords, "verify", held_verify)
    yield state
    state.release.set()


def test_busy_password_slots_answer_503_at_once_and_lockouts_429(
    database_url: str, tmp_path: Path, held: HeldHashes
) -> None:
    settings = make_settings(
        database_url, tmp_path, login_max_concurrent_hashes=2, login_hash_wait_s=0
    )
    with TestClient(create_app(settings)) as client:
        for _ in range(settings.login_max_failures):
            assert login(client, "locked", "wrong password!").status_code == 401
        for _ in range(settings.login_max_failures):
            held.inside.acquire()  # the checks above, counted and done
        with ThreadPoolExecutor(2) as pool:
            holders = [pool.submit(login, client, f"holder{i}", HOLD) for i in range(2)]
            for _ in holders:
                assert held.inside.acquire(timeout=30), "a held login never reached its hash"
            busy = login(client, "newcomer", "wrong password!")
            locked = login(client, "locked", "wrong password!")
            held.release.set()
            assert [h.result().status_code for h in holders] == [401, 401]
    assert (busy.status_code, busy.headers["retry-after"]) == (503, "1")
    assert busy.json() == {
        "detail": "too many logins in progress; try again in a moment",
        "code": "busy",
        "params": {"retry_after_s": 1},
    }
    assert locked.status_code == 429  # refused before it waits for a slot
    assert held.most_at_once == 2


def test_a_throttled_address_checks_in_its_own_slot_and_leaves_the_rest(
    database_url: str, tmp_path: Path, held: HeldHashes
) -> None:
    """Past its budget an address hashes for every new username; it gets one slot of two, so
    while a guess from it is in its hash, the next guess from it is busy and a login from
    another address still gets the other slot."""
    settings = make_settings(
        database_url,
        tmp_path,
        login_max_concurrent_hashes=2,
        login_max_concurrent_throttled_hashes=1,
        login_max_failures_per_ip=1,
        login_hash_wait_s=0,
    )
    with (
        TestClient(create_app(settings)) as guesser,
        TestClient(guesser.app, client=("192.0.2.7", 40000)) as colleague,
    ):
        user = Api(colleague).actor(UserRole.REVIEWER)
        assert login(guesser, "guess0", "wrong password!").status_code == 401  # budget spent
        assert held.inside.acquire(timeout=30)
        with ThreadPoolExecutor(1) as pool:
            holder = pool.submit(login, guesser, "guess1", HOLD)
            assert held.inside.acquire(timeout=30), "the held guess never reached its hash"
            busy = login(guesser, "guess2", "wrong password!")
            other = login(colleague, user.username, PASSWORD)
            held.release.set()
            assert holder.result().status_code == 401
    assert (busy.status_code, busy.headers["retry-after"]) == (503, "1")
    assert busy.json() == {
        "detail": "too many logins in progress from addresses with many failed logins; "
        "try again in a moment",
        "code": "busy",
        "params": {"retry_after_s": 1},
    }
    assert other.status_code == 200
    assert held.most_at_once == 2


# (trusted proxies, the peer's address, its X-Forwarded-For, warned): without uvicorn in front,
# a peer in the header stands for the client uvicorn puts there from a trusted proxy.
FORWARDED = [
    ((), "192.0.2.1", None, False),
    ((), "192.0.2.1", "203.0.113.9", True),
    ((), "127.0.0.1", "203.0.113.9, 10.0.0.5", True),
    (("10.0.0.0/8",), "192.0.2.1", "203.0.113.9", True),
    (("10.0.0.0/8",), "10.0.0.5", "203.0.113.9", False),
    (("10.0.0.0/8",), "203.0.113.9", "203.0.113.9:4711, 10.0.0.5", False),
    (("10.0.0.0/8", "::1"), "2001:db8::7", "[2001:db8::7]:4711", False),
]


@pytest.mark.parametrize(("trusted", "peer", "forwarded", "warned"), FORWARDED)
def test_forwarded_for_from_an_untrusted_peer_is_logged_once_and_on_health(
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    trusted: tuple[str, ...],
    peer: str,
    forwarded: str | None,
    warned: bool,
) -> None:
    settings = make_settings(database_url, tmp_path, trusted_proxies=trusted)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with (
        caplog.at_level(logging.WARNING, logger=proxies.__name__),
        TestClient(create_app(settings), client=(peer, 40000)) as client,
    ):
        assert client.get("/health").json() == {"status": "ok", "warnings": []}
        for _ in range(3):
            assert client.get("/me", headers=headers).status_code == 401
        health = client.get("/health").json()
    assert health == {"status": "ok", "warnings": [proxies.WARNING] if warned else []}
    logged = [r.getMessage() for r in caplog.records if r.name == proxies.__name__]
    assert logged == (
        [
            f"requests carry X-Forwarded-For from {peer}, which SHIRONG_TRUSTED_PROXIES does not "
            "name: the header is ignored, so every client behind that proxy has its address and "
            "they share one login budget; name the proxy in SHIRONG_TRUSTED_PROXIES (logged once)"
        ]
        if warned
        else []
    )


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("localhost", "trusted_proxies.0\n  value is not a valid IPv4 or IPv6 network"),
        ("10.0.0.5, 10.0.0.1/8", "trusted_proxies.1\n  value is not a valid IPv4 or IPv6 network"),
    ],
)
def test_trusted_proxies_must_be_addresses_or_networks(
    monkeypatch: pytest.MonkeyPatch, value: str, error: str
) -> None:
    monkeypatch.setenv("SHIRONG_ENV", "development")
    monkeypatch.setenv("SHIRONG_TRUSTED_PROXIES", value)
    with pytest.raises(ConfigError, match=error):
        load_settings()


def test_trusted_proxies_default_to_none_and_read_a_comma_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHIRONG_ENV", "development")
    assert load_settings().trusted_proxies == ()
    monkeypatch.setenv("SHIRONG_TRUSTED_PROXIES", "10.0.0.5, 10.0.1.0/24,::1")
    proxies = [str(network) for network in load_settings().trusted_proxies]
    assert proxies == ["10.0.0.5/32", "10.0.1.0/24", "::1/128"]


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.slow
def test_a_flood_of_usernames_from_one_address_is_bounded(tmp_path: Path) -> None:
    """40 concurrent wrong logins, all different usernames, default 64 MiB hashes: at most four
    hashes at once (before: all 40, +2.5 GiB), and past the budget of 5 the answer is 429/503."""
    slots, budget, attempts = 4, 5, 40
    with (
        shirong_serve(
            tmp_path, login_max_concurrent_hashes=str(slots), login_max_failures_per_ip=str(budget)
        ) as served,
        httpx.Client(base_url=served.url, timeout=120) as http,
    ):
        assert login(http, "warm-up", "wrong password!").status_code == 401
        baseline = peak = rss_mib(served.pid)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_mib(served.pid))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            with ThreadPoolExecutor(attempts) as pool:
                statuses = Counter(
                    pool.map(
                        lambda i: login(http, f"user{i}", "wrong").status_code, range(attempts)
                    )
                )
        finally:
            done.set()
            sampler.join()
    bound = slots * HASH_MIB + 128  # the slots' hashes plus generous room for everything else
    assert peak - baseline < bound, f"+{peak - baseline:.0f} MiB for {attempts} logins: {statuses}"
    # At most a slot's worth of checks can pass together the budget's last free attempt.
    assert statuses[401] <= budget - 1 + slots, statuses
    assert set(statuses) <= {401, 429, 503} and statuses[429] + statuses[503] > attempts // 2


@pytest.mark.slow
@pytest.mark.parametrize(("trusted", "last_status"), [(None, 429), ("127.0.0.1", 401)])
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    tmp_path: Path, trusted: str | None, last_status: int
) -> None:
    """Six wrong logins for one name, each claiming a new X-Forwarded-For: locked out (429) unless
    127.0.0.1 is a trusted proxy, when each claim is a client of its own (401)."""
    env = {"argon2_time_cost": "1", "argon2_memory_kib": "64"}
    if trusted is not None:
        env["trusted_proxies"] = trusted
    with shirong_serve(tmp_path, **env) as served, httpx.Client(base_url=served.url) as http:
        statuses = [
            http.post(
                "/auth/login",
                data={"username": "target", "password": "wrong"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(1, 7)
        ]
        health = http.get("/health").json()
    assert statuses == [401] * 5 + [last_status]
    # The header from a peer nobody trusts is a warning; uvicorn's rewrite by a trusted one is not.
    assert health["warnings"] == ([] if trusted else [proxies.WARNING])
