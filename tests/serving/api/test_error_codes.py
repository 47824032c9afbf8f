"""Error bodies carry a stable ``code`` and ``params`` besides the English ``detail``, every code
has its Chinese text in the one dictionary, and no error shows a server path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.db.models import UserRole
from serving.labels import LABELS_FILE
from serving.services.errors import Code, InvalidError, NotFoundError, redact_paths
from tests.serving.helpers import PASSWORD, Api, assert_published_422, make_settings, upload

MAX_BYTES = 4096


@pytest.fixture
def small(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """An app with a small upload limit and one failed login allowed before 429."""
    settings = make_settings(
        database_url, tmp_path, upload_max_bytes=MAX_BYTES, login_max_failures=1
    )
    with TestClient(create_app(settings)) as client:
        yield Api(client)


Call = Callable[[Api], httpx.Response]


def _login(api: Api, password: str) -> httpx.Response:
    return api.client.post("/auth/login", data={"username": "admin1", "password": password})


def _ticket(api: Api, *actions: str) -> int:
    body = {"clause": "5a", "description": "乱拉条幅", "complaint": False}
    tid = int(api.ok("POST", "/tickets", json=body)["id"])
    if actions:
        squad = api.squad(f"s{tid}")
        for action in actions:
            api.ok("POST", f"/tickets/{tid}/{action}", json={"squad_id": squad})
    return tid


def _as(role: UserRole, method: str, path: str, **kwargs: Any) -> Call:
    def call(api: Api) -> httpx.Response:
        return api.client.request(method, path, headers=api.actor(role).headers, **kwargs)

    return call


def _admin(method: str, path: str, **kwargs: Any) -> Call:
    return lambda api: api.client.request(method, path, headers=api.admin.headers, **kwargs)


def _close_new_ticket(api: Api) -> httpx.Response:
    return api.client.post(f"/tickets/{_ticket(api)}/close", json={}, headers=api.admin.headers)


def _reject_without_note(api: Api) -> httpx.Response:
    tid = _ticket(api, "dispatch")
    return api.client.post(f"/tickets/{tid}/reject", json={}, headers=api.admin.headers)


def _locked_out(api: Api) -> httpx.Response:
    """After the table's wrong password: login_max_failures is 1, so even the right one waits."""
    return _login(api, PASSWORD)


# (what, the call, status, code, params that must be among the body's)
CASES: list[tuple[str, Call, int, Code, dict[str, Any]]] = [
    ("no token", lambda api: api.client.get("/me"), 401, Code.NOT_AUTHENTICATED, {}),
    (
        "a token that is not one",
        lambda api: api.client.get("/me", headers={"Authorization": "Bearer nonsense"}),
        401,
        Code.TOKEN_INVALID,
        {},
    ),
    ("wrong password", lambda api: _login(api, "wrong!"), 401, Code.WRONG_CREDENTIALS, {}),
    ("too many failed logins", _locked_out, 429, Code.LOGIN_RATE_LIMITED, {}),
    (
        "role not allowed",
        _as(UserRole.REVIEWER, "POST", "/squads", json={"code": "x", "name": "x", "kind": "area"}),
        403,
        Code.ROLE_NOT_ALLOWED,
        {"role": "reviewer", "roles": ["admin"]},
    ),
    ("unknown ticket", _admin("GET", "/tickets/999"), 404, Code.NOT_FOUND, {}),
    ("unknown route", _admin("GET", "/no-such-page"), 404, Code.NOT_FOUND, {}),
    ("wrong method", _admin("DELETE", "/tickets"), 405, Code.HTTP_ERROR, {}),
    (
        "invalid transition",
        _close_new_ticket,
        409,
        Code.INVALID_TRANSITION,
        {"action": "close", "status": "new", "statuses": ["rectified"]},
    ),
    (
        "file over the limit, read",
        lambda api: upload(api, b"x" * (MAX_BYTES + 1)),
        413,
        Code.TOO_LARGE,
        {},
    ),
    (
        "body over the limit, declared",
        lambda api: upload(api, b"x" * (MAX_BYTES + 200 * 1024)),
        413,
        Code.TOO_LARGE,
        {},
    ),
    (
        "not an image",
        lambda api: upload(api, b"GIF89a" + bytes(64), name="a.gif"),
        415,
        Code.UNSUPPORTED_TYPE,
        {},
    ),
    ("a note is needed", _reject_without_note, 422, Code.NOTE_REQUIRED, {"action": "reject"}),
    (
        "request validation",
        _admin("GET", "/incidents", params={"limit": "many"}),
        422,
        Code.REQUEST_INVALID,
        {"fields": ["limit"]},
    ),
]


def test_error_responses_carry_their_code_and_params(small: Api) -> None:
    for what, call, status, code, params in CASES:
        response = call(small)
        assert response.status_code == status, (what, response.text)
        body = response.json()
        assert body["code"] == code.value, (what, body)
        assert params.items() <= body["params"].items(), (what, body)
        if status == 422:  # still the list form the OpenAPI schema publishes
            assert isinstance(body["detail"], list) and body["detail"][0]["msg"], what
        else:
            assert isinstance(body["detail"], str) and body["detail"], what


def test_422s_with_a_code_are_still_the_published_form(api: Api) -> None:
    tid = _ticket(api, "dispatch")
    path = f"/tickets/{tid}/reject"
    response = api.client.post(path, json={"note": " "}, headers=api.admin.headers)
    published = "/tickets/{ticket_id}/{action}"
    assert "note" in assert_published_422(api, response, "POST", published)
    listing = api.client.get("/incidents", params={"limit": "x"}, headers=api.admin.headers)
    assert "integer" in assert_published_422(api, listing, "GET", "/incidents")


def test_every_code_has_chinese_text_and_every_text_a_code() -> None:
    texts = json.loads(LABELS_FILE.read_text("utf-8"))["error"]
    assert set(texts) == {c.value for c in Code}
    for code, text in texts.items():
        assert text["zh"] and not text["zh"].isascii(), code


def test_no_error_message_or_parameter_shows_a_server_path(api: Api) -> None:
    app = cast(FastAPI, api.client.app)

    @app.get("/test-path-leak")
    def leak() -> None:
        raise InvalidError(
            "cannot read /srv/shirong/evidence/videos/ab12.gpx",
            params={"file": "/srv/shirong/evidence/videos/ab12.gpx"},
        )

    @app.get("/test-path-leak-404")
    def leak_404() -> None:
        raise NotFoundError("no model at /opt/models/v1/model.onnx")

    body = api.client.get("/test-path-leak").json()
    assert body["detail"][0]["msg"] == "cannot read ab12.gpx"
    assert body["params"] == {"file": "ab12.gpx"}
    assert api.client.get("/test-path-leak-404").json()["detail"] == "no model at model.onnx"


@pytest.mark.parametrize(
    "text",
    [
        "rectify needs after_photo: upload the photo to /evidence and pass its sha256",
        "see GET /incidents for the queue",
    ],
)
def test_route_names_of_one_part_are_not_paths(text: str) -> None:
    assert redact_paths(text) == text


def test_the_ui_reads_the_dictionary_the_server_does(api: Api) -> None:
    served = api.client.get("/ui/labels.json")
    assert served.status_code == 200
    assert served.json() == json.loads(LABELS_FILE.read_text("utf-8"))  # words only: no login
