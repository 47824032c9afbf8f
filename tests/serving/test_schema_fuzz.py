"""Schemathesis: cases generated from the OpenAPI schema never make the service answer 5xx."""

from __future__ import annotations

from typing import Any

import pytest

from serving.db.models import UserRole
from tests.serving.conftest import Api

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")
hypothesis = pytest.importorskip("hypothesis")

EXAMPLES = 20
SKIPPED = {("POST", "/auth/logout")}  # it would revoke the token the other cases use


def fuzz(operation: Any, headers: dict[str, str], errors: list[str]) -> None:
    """Send EXAMPLES generated requests to one operation; note every 5xx (exceptions propagate)."""

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases every run: a failure reproduces
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        if response.status_code >= 500:
            errors.append(
                f"{case.method} {case.formatted_path}: {response.status_code} "
                f"{response.text[:300]} for {case.body!r:.300}"
            )

    check()


@pytest.mark.slow
def test_generated_requests_get_no_server_error(api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    errors: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in SKIPPED:
            admin = api.actor(UserRole.ADMIN)  # fresh: a generated PATCH may deactivate a user
            fuzz(operation, admin.headers, errors)
    assert errors == []
