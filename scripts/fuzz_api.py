"""Fuzz the ticket service with schemathesis: no 5xx, and every response matches the OpenAPI schema.

A bigger, reproducible run than tests/serving/api/test_schema_fuzz.py (20 cases per operation): N
generated cases per operation (derandomized: the same cases every run), each sent as a fresh
admin through the ASGI app, checked with schemathesis' ``not_a_server_error`` and
``response_schema_conformance``. Always runs on a fresh SQLite database; ``--database-url`` adds a
run on another database (it is migrated and written to: give it a throw-away one). Prints cases and
failures per operation; exits 1 on any failure.

    .venv/bin/python scripts/fuzz_api.py --examples 100
    .venv/bin/python scripts/fuzz_api.py --examples 50 --database-url postgresql+psycopg://u@h/db
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("YOLO_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import hypothesis  # noqa: E402
import schemathesis  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup, ServerError  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from serving.app import create_app  # noqa: E402
from serving.config import Environment, Settings  # noqa: E402
from serving.db.models import UserRole  # noqa: E402
from serving.schemas.auth import UserCreate  # noqa: E402
from serving.services.auth import issue_token  # noqa: E402
from serving.services.users import create_user  # noqa: E402

CHECKS = [not_a_server_error, response_schema_conformance]
SKIPPED = {"POST /auth/logout"}  # it would revoke the token the other cases use
SAMPLES = 3  # failure messages kept per operation and kind


@dataclass
class Tally:
    """Cases and failures of one operation."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    schema_violations: int = 0
    samples: list[str] = field(default_factory=list)


def settings_for(database_url: str, root: Path) -> Settings:
    """Cheap hashes, no outgoing webhooks, no stream workers dialling generated camera URLs."""
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        evidence_root=root / "evidence",
        secret_key=secrets.token_urlsafe(32),
        argon2_time_cost=1,
        argon2_memory_kib=64,
        dispatch_worker=False,
        camera_workers=False,
        public_base_url="http://shirong.test",
    )


def admin_headers(client: TestClient, count: int) -> dict[str, str]:
    """A fresh admin's bearer header (a generated PATCH may deactivate the previous one)."""
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.sessions() as session:
        user = create_user(
            session,
            services.passwords,
            UserCreate(
                username=f"fuzz-admin{count}", password=secrets.token_hex(8), role=UserRole.ADMIN
            ),
        )
        token = issue_token(session, services.settings, user)
        session.commit()
        return {"Authorization": f"Bearer {token.token}"}


def fuzz_operation(operation: Any, headers: dict[str, str], examples: int) -> Tally:
    """Send ``examples`` generated cases to one operation and tally what the checks find."""
    tally = Tally()

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        tally.cases += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                server = isinstance(failure, ServerError)
                tally.server_errors += server
                tally.schema_violations += not server
                if len(tally.samples) < SAMPLES:
                    tally.samples.append(
                        f"{response.status_code} {failure.title}: {failure.message[:300]!r} "
                        f"body {response.text[:200]!r} for {case.body!r:.200}"
                    )

    run()
    return tally


def fuzz_app(database_url: str, examples: int, only: str | None) -> dict[str, Tally]:
    """Start the app on ``database_url`` (migrating it) and fuzz every operation in turn."""
    with tempfile.TemporaryDirectory(prefix="shirong-fuzz-") as root:
        app = create_app(settings_for(database_url, Path(root)))
        with TestClient(app) as client:
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            results: dict[str, Tally] = {}
            for count, result in enumerate(schema.get_all_operations()):
                operation = result.ok()
                label = f"{operation.method.upper()} {operation.path}"
                if label in SKIPPED or (only and only not in label):
                    continue
                results[label] = fuzz_operation(operation, admin_headers(client, count), examples)
                tally = results[label]
                flag = "" if not (tally.server_errors or tally.schema_violations) else "  <-- FAIL"
                print(
                    f"  {label:<55} {tally.cases:>5} cases  5xx {tally.server_errors:>3}  "
                    f"schema {tally.schema_violations:>3}{flag}",
                    flush=True,
                )
        return results


def report(name: str, results: dict[str, Tally]) -> bool:
    """Print totals and failure samples; True when nothing failed."""
    cases = sum(t.cases for t in results.values())
    server = sum(t.server_errors for t in results.values())
    schema = sum(t.schema_violations for t in results.values())
    statuses: Counter[int] = sum((t.statuses for t in results.values()), Counter())
    print(f"{name}: {len(results)} operations, {cases} cases, {server} 5xx, {schema} violations")
    print(f"  statuses: {dict(sorted(statuses.items()))}")
    for label, tally in results.items():
        for sample in tally.samples:
            print(f"  {label}: {sample}")
    return server == schema == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--examples", type=int, default=100, help="cases per operation")
    parser.add_argument(
        "--database-url",
        action="append",
        default=[],
        help="also fuzz on this (throw-away) database, e.g. PostgreSQL; repeatable",
    )
    parser.add_argument("--only", help="fuzz only operations whose 'METHOD /path' contains this")
    args = parser.parse_args()
    if args.examples < 1:
        parser.error("--examples must be at least 1")
    logging.basicConfig(level=logging.ERROR)  # the service's warnings about generated input
    ok = True
    with tempfile.TemporaryDirectory(prefix="shirong-fuzz-db-") as folder:
        targets = [("sqlite", f"sqlite:///{folder}/shirong.db")]
        targets += [(url.split(":", 1)[0], url) for url in args.database_url]
        for name, url in targets:
            print(f"{name}: {args.examples} examples per operation", flush=True)
            ok &= report(name, fuzz_app(url, args.examples, args.only))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
