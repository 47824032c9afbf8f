"""Camera registry: CRUD, redacted URLs, rules-config validation, zones, worker start/stop/watchdog.

Streams here are unreachable loopback ports (fast, no server needed); the real RTSP round trip is
in test_cameras_rtsp.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.config import Settings
from serving.services import cameras
from tests.serving.helpers import (
    SECRET,
    Api,
    camera_body,
    closed_port,
    error_message,
    make_settings,
    wait_for_camera,
)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Stream workers on: every camera in this file points at a loopback address."""
    return make_settings(database_url, tmp_path, camera_workers=True)


def test_crud_and_the_url_is_never_shown(api: Api) -> None:
    created = api.ok("POST", "/cameras", json=camera_body())
    assert SECRET not in str(created) and "token=abc" not in created["stream_url"]
    assert created["stream_url"].startswith("rtsp://admin:***@127.0.0.1:")
    assert created["config"]["id"] == "cam-test-01"
    assert created["config"]["zones"][0]["type"] == "pavement"
    camera_id = created["id"]
    assert SECRET not in str(api.ok("GET", "/cameras"))
    patched = api.ok("PATCH", f"/cameras/{camera_id}", json={"name": "滨海大道", "road": None})
    assert (patched["name"], patched["road"], patched["lat"]) == ("滨海大道", None, 35.95)
    assert api.ok("GET", f"/cameras/{camera_id}")["name"] == "滨海大道"
    echoed = api.ok("PATCH", f"/cameras/{camera_id}", json={"stream_url": created["stream_url"]})
    assert echoed["stream_url"] == created["stream_url"]
    with api.services.sessions() as session:  # the edit form echoing *** keeps the password
        assert SECRET in cameras.get(session, camera_id).stream_url
    moved = api.ok("PATCH", f"/cameras/{camera_id}", json={"stream_url": "rtsp://127.0.0.2/x"})
    assert moved["stream_url"] == "rtsp://127.0.0.2/x"
    api.ok("DELETE", f"/cameras/{camera_id}")
    assert api.client.get(f"/cameras/{camera_id}", headers=api.admin.headers).status_code == 404


def test_duplicate_code_is_a_conflict(api: Api) -> None:
    api.ok("POST", "/cameras", json=camera_body())
    response = api.client.post("/cameras", json=camera_body(), headers=api.admin.headers)
    assert response.status_code == 409
    assert "cam-test-01" in response.json()["detail"]


TRIANGLE = [[0, 0], [9, 0], [9, 9]]
BAD_CONFIGS = [
    ({"zones": [{"id": "z", "type": "moat", "polygon": TRIANGLE}]}, "config.zones.0.type"),
    (
        {"zones": [{"id": "z", "type": "pavement", "polygon": [[0, 0], [1, 1], [2, 2]]}]},
        "config.zones.0.polygon",
    ),
    ({"rules": {"9z": {"enabled": False}}}, "config.rules"),
    ({"detection": {"min_confidence": 2}}, "config.detection.min_confidence"),
    ({"surprise": 1}, "config.surprise"),
    ({"id": "other-camera"}, "config.id"),
]


@pytest.mark.parametrize(("config", "field"), BAD_CONFIGS)
def test_bad_rules_config_is_a_422_naming_the_field(
    api: Api, config: dict[str, Any], field: str
) -> None:
    response = api.client.post(
        "/cameras", json=camera_body(config=config), headers=api.admin.headers
    )
    assert response.status_code == 422, response.text
    assert field in error_message(response)


@pytest.mark.parametrize("field", ["stream_url", "detect_url"])
@pytest.mark.parametrize("url", ["file:///etc/passwd", "/dev/video0", "ftp://host/x"])
def test_only_stream_urls_are_accepted(api: Api, field: str, url: str) -> None:
    response = api.client.post(
        "/cameras", json=camera_body(**{field: url}), headers=api.admin.headers
    )
    assert response.status_code == 422
    assert field in response.text


def test_a_detection_sub_stream_is_redacted_kept_when_echoed_and_removable(api: Api) -> None:
    sub = f"rtsp://admin:{SECRET}@127.0.0.1:{closed_port()}/Streaming/102"
    created = api.ok("POST", "/cameras", json=camera_body(detect_url=sub))
    assert created["detect_url"] == sub.replace(SECRET, "***")
    camera_id = created["id"]
    echoed = api.ok("PATCH", f"/cameras/{camera_id}", json={"detect_url": created["detect_url"]})
    assert echoed["detect_url"] == created["detect_url"]
    with api.services.sessions() as session:
        assert cameras.get(session, camera_id).detect_url == sub
    assert api.ok("PATCH", f"/cameras/{camera_id}", json={"detect_url": None})["detect_url"] is None
    assert api.ok("POST", "/cameras", json=camera_body("cam-test-02"))["detect_url"] is None


def test_zones_replace_the_zones_and_keep_the_rest(api: Api) -> None:
    body = camera_body(config={"cooldown_s": 60, "zones": []})
    camera_id = api.ok("POST", "/cameras", json=body)["id"]
    zones = [
        {"id": "front", "type": "shop_front_band", "polygon": [[0, 300], [400, 300], [400, 380]]},
        {"id": "walk", "type": "pavement", "polygon": [[0, 380], [640, 380], [640, 480]]},
    ]
    saved = api.ok(
        "PUT", f"/cameras/{camera_id}/zones", json={"zones": zones, "frame_size": [640, 480]}
    )
    assert [z["id"] for z in saved["config"]["zones"]] == ["front", "walk"]
    assert saved["config"]["frame_size"] == [640, 480]
    assert saved["config"]["cooldown_s"] == 60


@pytest.mark.parametrize(
    ("zones", "frame_size", "message"),
    [
        (
            [{"id": "a", "type": "pavement", "polygon": [[0, 0], [900, 0], [900, 9]]}],
            [640, 480],
            "outside frame_size",
        ),
        (
            [{"id": "a", "type": "pavement", "polygon": TRIANGLE[:2]}],
            None,
            "config.zones.0.polygon",
        ),
        ([{"id": "m", "type": "market_area", "polygon": TRIANGLE}], None, "needs 'hours'"),
    ],
)
def test_bad_zones_are_refused_and_nothing_changes(
    api: Api, zones: list[Any], frame_size: list[int] | None, message: str
) -> None:
    camera_id = api.ok("POST", "/cameras", json=camera_body())["id"]
    body = {"zones": zones, "frame_size": frame_size}
    response = api.client.put(f"/cameras/{camera_id}/zones", json=body, headers=api.admin.headers)
    assert response.status_code == 422
    assert message in error_message(response)
    assert api.ok("GET", f"/cameras/{camera_id}")["config"]["zones"][0]["id"] == "walk"


def test_start_goes_offline_with_a_reason_and_stop_stops(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    camera_id = api.ok("POST", "/cameras", json=camera_body())["id"]
    assert api.ok("GET", f"/cameras/{camera_id}/status")["state"] == "stopped"
    api.ok("POST", f"/cameras/{camera_id}/start")
    assert api.ok("GET", f"/cameras/{camera_id}")["enabled"] is True
    # The worker's own report: until it has begun (seconds on a loaded machine), the API shows
    # the silent worker as offline too, for want of a report.
    status = wait_for_camera(
        api,
        camera_id,
        lambda s: s["state"] == "offline" and "cannot reach" in (s["last_error"] or ""),
        "the worker's offline report",
    )
    assert "cannot reach 127.0.0.1" in status["last_error"]
    assert status["frames_analysed"] == 0
    snapshot = api.client.get(f"/cameras/{camera_id}/snapshot", headers=api.admin.headers)
    assert snapshot.status_code == 404 and "no frame yet" in snapshot.json()["detail"]
    stopped = api.ok("POST", f"/cameras/{camera_id}/stop")
    assert stopped["state"] == "stopped"
    assert api.ok("GET", f"/cameras/{camera_id}")["enabled"] is False
    assert SECRET not in caplog.text


def test_a_stored_config_the_taxonomy_no_longer_accepts_is_refused_as_the_api_refuses_it(
    api: Api,
) -> None:
    camera_id = api.ok("POST", "/cameras", json=camera_body())["id"]
    with api.services.sessions() as session:
        camera = cameras.get(session, camera_id)
        zone = {"id": "walk", "type": "moat", "polygon": [[0, 0], [640, 0], [640, 480]]}
        camera.config = {**camera.config, "zones": [zone]}  # as if "moat" left the taxonomy
        session.commit()
    status = api.ok("POST", f"/cameras/{camera_id}/start")
    assert status["state"] == "offline"
    assert status["last_error"].startswith("config.zones.0.type: Input should be 'shop_front")


@pytest.fixture
def no_model_client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(
        database_url,
        tmp_path,
        model_path=tmp_path / "missing.onnx",
        camera_restart_s=0.05,
        camera_workers=True,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_crashing_worker_is_restarted_and_its_error_recorded(no_model_client: TestClient) -> None:
    api = Api(no_model_client)
    camera_id = api.ok("POST", "/cameras", json=camera_body(enabled=True))["id"]
    status = wait_for_camera(
        api, camera_id, lambda s: s["restarts"] >= 2 and s["state"] == "offline", "two restarts"
    )
    assert "missing.onnx" in status["last_error"] and "/" not in status["last_error"]
    api.ok("POST", f"/cameras/{camera_id}/stop")


def test_enabled_cameras_are_watched_when_the_service_starts(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, camera_workers=False)
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        camera_id = api.ok("POST", "/cameras", json=camera_body(enabled=True))["id"]
        assert api.ok("GET", f"/cameras/{camera_id}/status")["state"] == "stopped"
    with TestClient(create_app(settings.model_copy(update={"camera_workers": True}))) as client:
        api.client = client  # same database: the token still works
        wait_for_camera(
            api, camera_id, lambda s: s["state"] in ("connecting", "offline"), "a worker"
        )
