"""Browser security headers on every kind of response: API, UI, evidence, errors, 404s (the
docs' own policies: tests/serving/api/test_docs.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from serving.api.security_headers import API_POLICY, PAGE_POLICY, with_sources
from tests.serving.helpers import Api, png_bytes, upload

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
EVIDENCE_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"  # its own, framing added

Call = Callable[[Api], httpx.Response]


def _evidence(api: Api) -> httpx.Response:
    sha = upload(api, png_bytes()).json()["sha256"]
    return api.client.get(f"/evidence/{sha}", headers=api.admin.headers)


# (what, the call, status, Content-Security-Policy)
CASES: list[tuple[str, Call, int, str]] = [
    ("API JSON", lambda api: api.client.get("/me", headers=api.admin.headers), 200, API_POLICY),
    ("health", lambda api: api.client.get("/health"), 200, API_POLICY),
    (
        "HTML report",
        lambda api: api.client.get("/reports/daily?format=html", headers=api.admin.headers),
        200,
        API_POLICY,
    ),
    ("UI page", lambda api: api.client.get("/ui/"), 200, PAGE_POLICY),
    ("UI script", lambda api: api.client.get("/ui/js/app.js"), 200, PAGE_POLICY),
    ("UI redirect", lambda api: api.client.get("/", follow_redirects=False), 307, API_POLICY),
    ("evidence file", _evidence, 200, EVIDENCE_POLICY),
    ("401", lambda api: api.client.get("/me"), 401, API_POLICY),
    (
        "422",
        lambda api: api.client.get("/incidents?limit=-1", headers=api.admin.headers),
        422,
        API_POLICY,
    ),
    (
        "413 from the body cap",
        lambda api: api.client.post(
            "/auth/login", content=b"x" * (2 << 20), headers={"Content-Type": "text/plain"}
        ),
        413,
        API_POLICY,
    ),
    ("404 route", lambda api: api.client.get("/no-such-page"), 404, API_POLICY),
    ("404 UI file", lambda api: api.client.get("/ui/no-such-file.js"), 404, PAGE_POLICY),
    (
        "404 evidence",
        lambda api: api.client.get(f"/evidence/{'0' * 64}", headers=api.admin.headers),
        404,
        API_POLICY,  # the JSON error, not a file
    ),
]


@pytest.mark.parametrize(("what", "call", "status", "policy"), CASES, ids=[c[0] for c in CASES])
def test_every_response_carries_the_security_headers(
    api: Api, what: str, call: Call, status: int, policy: str
) -> None:
    response = call(api)
    assert response.status_code == status, response.text[:300]
    assert {name: response.headers.get(name) for name in COMMON} == COMMON
    assert response.headers.get_list("content-security-policy") == [policy]


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split("; "))}


def test_the_ui_policy_runs_only_the_origins_script_files(client: TestClient) -> None:
    """No inline script, no other origin's, no framing; style attributes (the UI sets them) but
    no ``<style>`` elements."""
    page = directives(PAGE_POLICY)
    assert page["default-src"] == page["script-src"] == page["style-src"] == ["'self'"]
    assert page["frame-ancestors"] == page["object-src"] == page["base-uri"] == ["'none'"]
    assert page["style-src-attr"] == ["'unsafe-inline'"]
    scripts = re.findall(r"<script\b[^>]*>", client.get("/ui/").text)
    assert scripts == ['<script type="module" src="js/app.js">']
    api = directives(API_POLICY)
    assert api["default-src"] == api["frame-ancestors"] == ["'none'"]
    assert "script-src" not in api


@pytest.mark.parametrize(
    ("directive", "sources", "policy"),
    [
        ("style-src", ("'unsafe-inline'",), "default-src 'self'; style-src 'self' 'unsafe-inline'"),
        ("worker-src", ("blob:",), "default-src 'self'; style-src 'self'; worker-src blob:"),
    ],
    ids=["a directive it has", "one it lacks"],
)
def test_with_sources_adds_to_a_directive_or_adds_the_directive(
    directive: str, sources: tuple[str, ...], policy: str
) -> None:
    assert with_sources("default-src 'self'; style-src 'self'", directive, *sources) == policy
