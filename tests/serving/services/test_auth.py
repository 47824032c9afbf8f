"""Login, tokens, rate limiting and /me, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from serving.db.base import utcnow
from serving.db.models import AuthToken, UserRole
from tests.serving.helpers import PASSWORD, Api


def login(
    client: TestClient, username: str, password: str
) -> tuple[int, dict[str, object], dict[str, str]]:
    response = client.post("/auth/login", data={"username": username, "password": password})
    return response.status_code, response.json(), dict(response.headers)


def test_login_returns_a_token_that_works_for_me(api: Api, client: TestClient) -> None:
    officer_squad = api.squad("north")
    officer = api.actor(UserRole.SQUAD_OFFICER, squad_id=officer_squad)
    status, body, _ = login(client, officer.username, PASSWORD)
    assert status == 200 and body["token_type"] == "bearer"
    me = client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json() | {"created_at": None} == {
        "id": officer.id,
        "username": officer.username,
        "full_name": "",
        "role": "squad_officer",
        "squad_id": officer_squad,
        "active": True,
        "created_at": None,
    }


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "not authenticated: send 'Authorization: Bearer <token>'"),
        ({"Authorization": "Bearer nonsense"}, "invalid or expired token"),  # token_invalid
        (
            {"Authorization": "Basic dXNlcjpwdw=="},
            "not authenticated: send 'Authorization: Bearer <token>'",
        ),
    ],
)
def test_me_needs_a_valid_bearer_token(
    client: TestClient, headers: dict[str, str], detail: str
) -> None:
    response = client.get("/me", headers=headers)
    assert response.status_code == 401
    code = "token_invalid" if detail.startswith("invalid") else "not_authenticated"
    assert response.json() == {"detail": detail, "code": code, "params": {}}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_wrong_password_and_unknown_user_get_the_same_answer(api: Api, client: TestClient) -> None:
    user = api.actor(UserRole.REVIEWER)
    wrong = {"detail": "wrong username or password", "code": "wrong_credentials", "params": {}}
    assert login(client, user.username, "wrong password!")[:2] == (401, wrong)
    assert login(client, "nobody-here", PASSWORD)[:2] == (401, wrong)


def test_repeated_failures_are_rate_limited_per_username_and_ip(
    api: Api, client: TestClient
) -> None:
    user = api.actor(UserRole.DISPATCHER)
    limit = api.services.settings.login_max_failures
    for _ in range(limit):
        assert login(client, user.username, "wrong password!")[0] == 401
    status, body, headers = login(client, user.username, PASSWORD)  # even the right password
    assert status == 429
    reason = f"too many failed logins for '{user.username}' from this address"
    assert body == {
        "detail": f"{reason}; try again later",
        "code": "login_rate_limited",
        "params": {"retry_after_s": int(headers["retry-after"])},
    }
    assert 1 <= int(headers["retry-after"]) <= api.services.settings.login_window_s
    other = api.actor(UserRole.DISPATCHER)
    assert login(client, other.username, PASSWORD)[0] == 200  # another username is unaffected


def test_success_clears_the_failure_count(api: Api, client: TestClient) -> None:
    user = api.actor(UserRole.REVIEWER)
    limit = api.services.settings.login_max_failures
    for _ in range(limit - 1):
        login(client, user.username, "wrong password!")
    assert login(client, user.username, PASSWORD)[0] == 200
    for _ in range(limit - 1):
        login(client, user.username, "wrong password!")
    assert login(client, user.username, PASSWORD)[0] == 200


def test_logout_revokes_the_token(api: Api, client: TestClient) -> None:
    user = api.actor(UserRole.REVIEWER)
    assert client.post("/auth/logout", headers=user.headers).status_code == 204
    assert client.get("/me", headers=user.headers).status_code == 401


def test_expired_token_is_refused(api: Api, client: TestClient) -> None:
    user = api.actor(UserRole.REVIEWER)
    with api.services.sessions() as session:
        session.execute(update(AuthToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert client.get("/me", headers=user.headers).json()["detail"] == "invalid or expired token"


def test_deactivated_user_loses_access(api: Api, client: TestClient) -> None:
    user = api.actor(UserRole.DISPATCHER)
    api.ok("PATCH", f"/users/{user.id}", json={"active": False})
    assert client.get("/me", headers=user.headers).status_code == 401
    assert login(client, user.username, PASSWORD)[0] == 401


def test_tokens_are_stored_hashed(api: Api) -> None:
    user = api.actor(UserRole.REVIEWER)
    token = user.headers["Authorization"].removeprefix("Bearer ")
    with api.services.sessions() as session:
        stored = session.query(AuthToken.token_hash).all()
    assert stored and all(token not in row.token_hash for row in stored)
    assert all(len(row.token_hash) == 64 for row in stored)


def test_passwords_are_argon2id_hashes(api: Api) -> None:
    from serving.db.models import User

    api.actor(UserRole.REVIEWER)
    with api.services.sessions() as session:
        hashes = [u.password_hash for u in session.query(User)]
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
