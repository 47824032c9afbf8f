"""What the login limits leave an attacker, and what they cost a real user, on a real ``shirong
serve`` on loopback (default argon2 costs, fresh SQLite database, this checkout and optionally a
git revision ``--baseline`` before it).

Each client binds its own loopback source address (127.0.0.0/8 all reaches the service on
127.0.0.1), so the service sees distinct peers without any X-Forwarded-For. Phases, each at most
``--seconds`` long and on addresses of its own:

- **spray**: one address, ``--attackers`` concurrent guessers, each guess a new username (the
  demo and bench accounts first, then made-up names); meanwhile a real user of that address, and
  one of another address, log in with the right password again and again (each try retried on
  503 after its Retry-After, until a 200 or a 429);
- **one user, many addresses**: guesses at one account from ``--addresses`` addresses, each
  until it is refused;
- **typo**: at the spent address from the spray, a real user who mistypes once, then gets it right.

    .venv/bin/python scripts/bench_logins.py --baseline 2f0526d --seconds 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, service

PASSWORD = "bench-password-1234"
WRONG = "not the password"
USERS = 8  # accounts the bench creates besides the demo ones
BUDGET = 20  # the default login_max_failures_per_ip


@dataclass
class Tally:
    """Answers to the attacker's attempts, and the attempts checked (a 200 or a 401)."""

    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def checked(self) -> int:
        return self.statuses.get(200, 0) + self.statuses.get(401, 0)


def client(url: str, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, timeout=60)


def login(http: httpx.Client, username: str, password: str) -> httpx.Response:
    return http.post("/auth/login", data={"username": username, "password": password})


def real_login(http: httpx.Client, username: str, deadline: float) -> tuple[float, int]:
    """Seconds until the right password got a final answer (200 or 429), retrying 503s after
    Retry-After, and that answer (0: still busy at the deadline)."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        answer = login(http, username, PASSWORD)
        if answer.status_code != 503:
            return time.monotonic() - started, answer.status_code
        time.sleep(float(answer.headers.get("retry-after", "1")))
    return time.monotonic() - started, 0


def waits(results: list[tuple[float, int]]) -> dict[str, Any]:
    ok = [s for s, status in results if status == 200]
    return {
        "tries": len(results),
        "logged_in": len(ok),
        "refused_429": sum(status == 429 for _, status in results),
        "wait_p50_s": round(statistics.median(ok), 2) if ok else None,
        "wait_max_s": round(max(ok), 2) if ok else None,
    }


def spray(url: str, names: list[str], attackers: int, seconds: float) -> dict[str, Any]:
    """127.0.0.2 guesses a new username each time; user0 logs in from it, user1 from 127.0.0.3."""
    tally, real_accounts = Tally(), set(names)
    guessed_real: list[str] = []
    counter = iter(range(10**9))
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds

    def next_name() -> str:
        with lock:
            i = next(counter)
        return names[i] if i < len(names) else f"made-up-{i}"

    def guess() -> None:
        with client(url, "127.0.0.2") as http:
            while time.monotonic() < deadline:
                name = next_name()
                answer = login(http, name, WRONG)
                tally.add(answer.status_code)
                if name in real_accounts and answer.status_code == 401:
                    guessed_real.append(name)
                if answer.status_code == 503:
                    time.sleep(float(answer.headers.get("retry-after", "1")))

    def user(address: str, username: str) -> list[tuple[float, int]]:
        results = []
        with client(url, address) as http:
            while tally.checked < BUDGET and time.monotonic() < deadline:
                time.sleep(0.05)  # the guessers first: the address spends its budget
            while time.monotonic() < deadline:
                results.append(real_login(http, username, deadline))
                if results[-1][1] == 200:
                    time.sleep(1)
        return results

    with ThreadPoolExecutor(attackers + 2) as pool:
        same = pool.submit(user, "127.0.0.2", "bench-user0")
        other = pool.submit(user, "127.0.0.3", "bench-user1")
        for future in [pool.submit(guess) for _ in range(attackers)]:
            future.result()
        same_results, other_results = same.result(), other.result()
    minutes = (time.monotonic() - started) / 60
    return {
        "attempts_per_min": round(sum(tally.statuses.values()) / minutes),
        "checked_guesses_per_min": round(tally.checked / minutes),
        "statuses": dict(sorted(tally.statuses.items())),
        "real_accounts_guessed": len(guessed_real),
        "real_accounts": len(names),
        "user_same_address": waits(same_results),
        "user_other_address": waits(other_results),
    }


def one_user(url: str, addresses: int, seconds: float) -> dict[str, Any]:
    """Guesses at bench-user2, one address after another, each until refused."""
    tally = Tally()
    started = time.monotonic()
    deadline = started + seconds
    used = 0
    for n in range(addresses):
        if time.monotonic() > deadline:
            break
        used += 1
        with client(url, f"127.0.1.{n + 1}") as http:
            while time.monotonic() < deadline:
                status = login(http, "bench-user2", WRONG).status_code
                tally.add(status)
                if status == 429:
                    break
    minutes = (time.monotonic() - started) / 60
    return {
        "addresses": used,
        "checked_guesses": tally.checked,
        "guesses_per_address": round(tally.checked / used, 1),
        "checked_guesses_per_min": round(tally.checked / minutes),
        "statuses": dict(sorted(tally.statuses.items())),
    }


def typo(url: str) -> dict[str, Any]:
    """At the spray's spent address: bench-user3 mistypes once, then types it right."""
    with client(url, "127.0.0.2") as http:
        first = login(http, "bench-user3", WRONG)
        second = login(http, "bench-user3", PASSWORD)
    return {
        "mistyped": first.status_code,
        "then_right": second.status_code,
        "retry_after_s": int(second.headers.get("retry-after", "0")),
    }


def idle(url: str, tries: int = 5) -> dict[str, Any]:
    """The right password from a quiet address: what one login costs without an attack."""
    with client(url, "127.0.0.4") as http:
        results = [real_login(http, "bench-user4", time.monotonic() + 60) for _ in range(tries)]
    return waits(results)


def run(code: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    with service(code, work, {}, before=lambda _: None) as (admin, _, _):
        names = []
        for i in range(USERS):
            body = {"username": f"bench-user{i}", "password": PASSWORD, "role": "reviewer"}
            assert admin.post("/users", json=body).status_code == 201
            names.append(f"bench-user{i}")
        others = [u["username"] for u in admin.get("/users").json() if u["username"] not in names]
        url = str(admin.base_url).rstrip("/")
        result = {"idle": idle(url)}
        # The spray guesses at every account but those the phases log in as.
        watched = {"bench-user0", "bench-user1", "bench-user3", "bench-user4"}
        targets = [n for n in names + others if n not in watched]
        result["spray"] = spray(url, targets, args.attackers, args.seconds)
        result["one_user_many_addresses"] = one_user(url, args.addresses, args.seconds)
        result["typo"] = typo(url)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="also measure this git revision (before the change)")
    parser.add_argument("--seconds", type=float, default=30, help="length of each timed phase")
    parser.add_argument("--attackers", type=int, default=4, help="concurrent guessers (spray)")
    parser.add_argument("--addresses", type=int, default=20, help="addresses (one user)")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 300 or not 1 <= args.attackers <= 32 or args.addresses > 250:
        raise SystemExit("--seconds 1-300, --attackers 1-32 and --addresses at most 250")
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-logins-") as tmp:
        work = Path(tmp)
        if args.baseline:
            baseline = work / "baseline"
            command = ["git", "-C", str(REPO), "worktree", "add", "--detach", str(baseline)]
            subprocess.run([*command, args.baseline], check=True, capture_output=True)
            try:
                results[f"baseline {args.baseline}"] = run(baseline, work / "base-data", args)
            finally:
                remove = ["git", "-C", str(REPO), "worktree", "remove", "--force", str(baseline)]
                subprocess.run(remove, check=False)
        results["this checkout"] = run(REPO, work / "data", args)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
