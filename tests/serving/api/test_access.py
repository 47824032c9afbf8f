"""Every route: 401 without a token, 403 for each role it does not admit, 404 for unknown ids."""

from __future__ import annotations

import re
from pathlib import Path

from serving.app import create_app
from serving.db.models import UserRole
from tests.serving.helpers import Api, make_settings

R = UserRole
EVERYONE = frozenset(R)
STAFF = frozenset({R.ADMIN, R.DISPATCHER, R.REVIEWER, R.SQUAD_OFFICER})
ADMIN = frozenset({R.ADMIN})
DISPATCH = frozenset({R.ADMIN, R.DISPATCHER})
REVIEW = frozenset({R.ADMIN, R.REVIEWER})
READ_INCIDENTS = frozenset({R.ADMIN, R.DISPATCHER, R.REVIEWER})
INGEST = frozenset({R.ADMIN, R.DISPATCHER, R.INGEST})
SHA = "ab" * 32

# (method, path with ids that do not exist, roles admitted, answers 404 for an admitted role)
ROUTES: list[tuple[str, str, frozenset[UserRole], bool]] = [
    ("GET", "/me", EVERYONE, False),
    ("POST", "/auth/logout", EVERYONE, False),
    ("POST", "/users", ADMIN, False),
    ("GET", "/users", ADMIN, False),
    ("GET", "/users/999", ADMIN, True),
    ("PATCH", "/users/999", ADMIN, True),
    ("POST", "/squads", ADMIN, False),
    ("GET", "/squads", STAFF, False),
    ("GET", "/squads/999", STAFF, True),
    ("PUT", "/squads/999", ADMIN, False),
    ("GET", "/routing", DISPATCH, False),
    ("POST", "/incidents", INGEST, False),
    ("GET", "/incidents", READ_INCIDENTS, False),
    ("GET", "/incidents/999", READ_INCIDENTS, True),
    ("POST", "/incidents/999/reviews", REVIEW, True),
    ("GET", "/reviews", REVIEW, False),
    ("POST", "/tickets", DISPATCH, False),
    ("GET", "/tickets", STAFF, False),
    ("GET", "/tickets/999", STAFF, True),
    ("GET", "/tickets/999/events", STAFF, True),
    ("POST", "/tickets/999/dispatch", STAFF, True),
    ("POST", "/evidence", EVERYONE, False),
    ("GET", f"/evidence/{SHA}", EVERYONE, True),
    ("POST", "/webhooks", ADMIN, False),
    ("GET", "/webhooks", ADMIN, False),
    ("DELETE", "/webhooks/999", ADMIN, True),
    ("GET", "/outbox", ADMIN, False),
    ("GET", "/outbox/999/attempts", ADMIN, True),
    ("POST", "/outbox/deliver", ADMIN, False),
    ("GET", "/reports/daily", STAFF, False),
    ("GET", "/reports/daily/chart", STAFF, False),
    ("GET", "/admin/retention", ADMIN, False),
    ("POST", "/admin/retention/run", ADMIN, False),
    ("GET", "/tickets/999/legal-hold", ADMIN, True),
    ("PUT", "/tickets/999/legal-hold", ADMIN, True),
    ("DELETE", "/incidents/999/suppression", REVIEW, True),
    ("GET", "/taxonomy", STAFF, False),
    ("GET", "/zone-types", STAFF, False),
    ("GET", "/corrections/export", REVIEW, False),
    ("POST", "/cameras", DISPATCH, False),
    ("GET", "/cameras", READ_INCIDENTS, False),
    ("GET", "/cameras/999", READ_INCIDENTS, True),
    ("PATCH", "/cameras/999", DISPATCH, True),
    ("DELETE", "/cameras/999", DISPATCH, True),
    ("POST", "/cameras/999/start", DISPATCH, True),
    ("POST", "/cameras/999/stop", DISPATCH, True),
    ("GET", "/cameras/999/status", READ_INCIDENTS, True),
    ("GET", "/cameras/999/snapshot", READ_INCIDENTS, True),
    ("PUT", "/cameras/999/zones", DISPATCH, True),
    ("POST", "/ingest/photos", INGEST, False),
    ("POST", "/ingest/videos", INGEST, False),
    ("GET", "/jobs/999", INGEST, True),
    ("GET", "/metrics", ADMIN, False),  # or SHIRONG_METRICS_TOKEN: test_metrics_access
]
# /evidence/{sha256}/signed: its signature is the permission (test_evidence_links).
PUBLIC = {("POST", "/auth/login"), ("GET", "/health"), ("GET", f"/evidence/{SHA}/signed")}
VALID_BODIES = {
    ("POST", "/incidents/999/reviews"): {"action": "confirm"},
    ("POST", "/tickets/999/dispatch"): {},
    ("PATCH", "/users/999"): {},
    ("PATCH", "/cameras/999"): {},
    ("PUT", "/cameras/999/zones"): {"zones": []},
    ("PUT", "/tickets/999/legal-hold"): {"hold": True, "reason": "court order"},
}


def test_every_route_is_in_the_access_table(tmp_path: Path) -> None:
    """A new route must be added to ROUTES (and so get its guard tests)."""
    app = create_app(make_settings("sqlite://", tmp_path))
    published = {
        (
            method.upper(),
            re.sub(r"\{[a-z_]+_id\}", "999", path)
            .replace("{action}", "dispatch")
            .replace("{sha256}", SHA),
        )
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert published == {(m, p) for m, p, _, _ in ROUTES} | PUBLIC


def test_route_guards(api: Api) -> None:
    """One app and one user per role for the whole table (fast); failures name the route."""
    squad = api.squad("guard")
    actors = {role: api.actor(role, squad if role is R.SQUAD_OFFICER else None) for role in R}
    for method, path, roles, has_404 in ROUTES:
        route = f"{method} {path}"
        body = VALID_BODIES.get((method, path), {}) if method in ("POST", "PUT", "PATCH") else None
        anonymous = api.client.request(method, path, json=body)
        assert anonymous.status_code == 401, (route, anonymous.text)
        if (method, path) == ("POST", "/auth/logout"):
            continue  # would revoke the tokens the table needs; tested in test_auth
        for role in R:
            response = api.client.request(method, path, headers=actors[role].headers, json=body)
            if role not in roles:
                assert response.status_code == 403, (route, role, response.text)
                detail = response.json()["detail"]
                assert detail.startswith(f"role '{role.value}' may not do this"), route
                assert response.json()["code"] == "role_not_allowed", route
            elif has_404:
                assert response.status_code == 404, (route, role, response.text)
            else:
                assert response.status_code not in (401, 403), (route, role, response.text)


def test_public_routes(api: Api) -> None:
    assert api.client.get("/health").status_code == 200
