"""Schemathesis: cases generated from the OpenAPI schema never make the service answer 5xx, and
every answer matches the schema it publishes (a 422's ``detail`` is a list, as FastAPI documents).

``scripts/fuzz_api.py`` runs the same checks with more cases per operation and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from serving.db.models import UserRole
from tests.serving.helpers import Api

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")
hypothesis = pytest.importorskip("hypothesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

EXAMPLES = 20
SKIPPED = {("POST", "/auth/logout")}  # it would revoke the token the other cases use


def fuzz(operation: Any, headers: dict[str, str], errors: list[str]) -> None:
    """Send EXAMPLES generated requests to one operation; note every 5xx and every response the
    schema does not allow (exceptions propagate)."""

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
        try:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance], headers=headers
            )
        except FailureGroup as group:
            titles = "; ".join(failure.title for failure in group.exceptions)
            errors.append(
                f"{case.method} {case.formatted_path}: {response.status_code} ({titles}) "
                f"{response.text[:300]} for {case.body!r:.300}"
            )

    check()


@pytest.mark.slow
def test_generated_requests_get_no_server_error_and_match_the_schema(api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    errors: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in SKIPPED:
            admin = api.actor(UserRole.ADMIN)  # fresh: a generated PATCH may deactivate a user
            fuzz(operation, admin.headers, errors)
    assert errors == []
