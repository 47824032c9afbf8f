"""Tickets get what the rules know: the camera road (定人定路, key roads) and its priority hours."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from serving.db.models import UserRole
from tests.serving.helpers import Api, make_record, post_record

ROAD = "香江路"
SHANGHAI_10H = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
SHANGHAI_12H = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)  # 00:00 in New York
SHANGHAI_22H = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)  # 10:00 in New York
SHANGHAI_23H = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)


def camera(api: Api, code: str, road: str | None = None, **config: Any) -> None:
    body = {"code": code, "stream_url": "rtsp://127.0.0.1:9/x", "road": road, "enabled": False}
    api.ok("POST", "/cameras", json={**body, "config": config})


def road_squad(api: Api, cameras: list[str]) -> tuple[int, int]:
    """A squad owning ROAD as a key road with a named officer; returns (squad id, officer id)."""
    squad = api.squad("east")
    officer = api.actor(UserRole.SQUAD_OFFICER, squad)
    road = {"road": ROAD, "officer_id": officer.id, "key_road": True}
    body = {"code": "east", "name": "东区中队", "kind": "area", "cameras": cameras, "roads": [road]}
    api.ok("PUT", f"/squads/{squad}", json=body)
    return squad, officer.id


def confirmed_ticket(api: Api, **record: Any) -> Any:
    incident = post_record(api, make_record(location=None, **record))
    reviewer = api.actor(UserRole.REVIEWER)
    response = api.client.post(
        f"/incidents/{incident['id']}/reviews", headers=reviewer.headers, json={"action": "confirm"}
    )
    assert response.status_code == 200, response.text
    return api.ok("GET", f"/tickets/{response.json()['ticket_id']}")


@pytest.mark.parametrize(
    ("squad_cameras", "via"),
    [([], "road"), (["cam-x"], "camera")],
    ids=["camera-of-no-squad", "camera-of-the-road-squad"],
)
def test_a_camera_incident_gets_the_camera_road_its_officer_and_key_road_priority(
    api: Api, squad_cameras: list[str], via: str
) -> None:
    squad, officer = road_squad(api, squad_cameras)
    camera(api, "cam-x", road=ROAD)
    ticket = confirmed_ticket(api, source_id="cam-x")
    assert (ticket["road"], ticket["squad_id"], ticket["route_via"]) == (ROAD, squad, via)
    assert ticket["officer_id"] == officer
    assert (ticket["priority"], ticket["priority_reasons"]) == ("high", ["key_road", "daytime"])


# (first seen, the rules' in_priority_hours, reasons): the record decides, not the Shanghai clock.
RECORD_HOURS = [
    (SHANGHAI_10H, False, []),
    (SHANGHAI_10H, True, ["daytime"]),
    (SHANGHAI_22H, True, ["daytime"]),  # a source whose priority period is the evening
]


@pytest.mark.parametrize(("first_seen", "in_hours", "reasons"), RECORD_HOURS)
def test_incident_priority_hours_come_from_the_rules_record(
    api: Api, first_seen: datetime, in_hours: bool, reasons: list[str]
) -> None:
    ticket = confirmed_ticket(api, first_seen=first_seen, in_priority_hours=in_hours)
    assert ticket["priority_reasons"] == reasons
    assert ticket["priority"] == ("high" if reasons else "normal")


# (camera, observed at, road on the ticket, reasons) for complaints, which have no rules record.
COMPLAINTS: list[tuple[str | None, datetime, str | None, list[str]]] = [
    (None, SHANGHAI_12H, None, ["daytime"]),  # default: 08:00-18:00 Asia/Shanghai
    (None, SHANGHAI_22H, None, []),
    ("cam-w", SHANGHAI_12H, None, ["daytime"]),  # a camera id that is not registered: default
    ("cam-ny", SHANGHAI_22H, None, ["daytime"]),  # 10:00 in New York
    ("cam-ny", SHANGHAI_12H, None, []),  # midnight in New York
    ("cam-night", SHANGHAI_23H, None, ["daytime"]),  # its period is 18:00-02:00
    ("cam-night", SHANGHAI_12H, None, []),
    ("cam-x", SHANGHAI_22H, ROAD, ["key_road"]),  # the camera's road when none is given
]


def test_complaint_priority_hours_follow_the_source_timezone_and_schedule(api: Api) -> None:
    road_squad(api, [])
    camera(api, "cam-x", road=ROAD)
    camera(api, "cam-ny", timezone="America/New_York")
    camera(api, "cam-night", priority_hours=[{"start": "18:00", "end": "02:00"}])
    for camera_id, observed, road, reasons in COMPLAINTS:
        body = {
            "clause": "3a",
            "description": "市民投诉",
            "camera_id": camera_id,
            "observed_at": observed.isoformat(),
            "complaint": False,
        }
        ticket = api.ok("POST", "/tickets", json=body)
        assert (ticket["road"], ticket["priority_reasons"]) == (road, reasons), body


def test_a_road_given_with_the_complaint_wins_over_the_camera_road(api: Api) -> None:
    camera(api, "cam-x", road=ROAD)
    body = {"clause": "3a", "description": "投诉", "camera_id": "cam-x", "road": "长江路"}
    assert api.ok("POST", "/tickets", json=body)["road"] == "长江路"
