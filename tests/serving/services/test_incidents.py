"""Incident ingestion (the rules engine's exact JSON, idempotent) and the review gate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from serving.db.models import Incident, User, UserRole
from serving.schemas.incidents import ReviewAction, ReviewIn
from serving.services import incidents
from serving.services.incident_record import RecordView
from tests.serving.helpers import Api, make_record, post_record, sha

WEST = [[36.00, 120.00], [36.00, 120.10], [36.10, 120.10], [36.10, 120.00]]


def review(api: Api, incident_id: int, **body: Any) -> tuple[int, Any]:
    reviewer = api.actor(UserRole.REVIEWER)
    response = api.client.post(
        f"/incidents/{incident_id}/reviews", headers=reviewer.headers, json=body
    )
    return response.status_code, response.json()


def test_ingest_maps_the_record(api: Api) -> None:
    record = make_record()
    ingest = api.actor(UserRole.INGEST)
    incident = post_record(api, record, ingest)
    assert incident["status"] == "pending" and incident["ticket_id"] is None
    assert incident["record_id"] == record.id
    assert (incident["standard"], incident["clause"], incident["rule"]) == (3, "3a", "3a.test_rule")
    assert (incident["camera_id"], incident["lat"], incident["lon"]) == ("cam-w", 36.05, 120.02)
    assert incident["evidence"][:2] == [
        sha(f"{record.id}/opened-original"),
        sha(f"{record.id}/best-original"),
    ]
    assert len(incident["evidence"]) == 6
    assert incident["boxes"] == [
        {
            "track_key": 1,
            "class_name": "garbage_bag",
            "role": "disorder",
            "confidence": 0.8,
            "xyxy": None,
            "evidence": sha(f"{record.id}/best-original"),
        }
    ]


def test_same_record_twice_is_one_incident(api: Api) -> None:
    record = make_record()
    headers = {**api.admin.headers, "Content-Type": "application/json"}
    first = api.client.post("/incidents", content=record.to_json(), headers=headers)
    again = api.client.post("/incidents", content=record.to_json(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert len(api.ok("GET", "/incidents")) == 1


def test_a_later_update_of_a_pending_incident_refreshes_it(api: Api) -> None:
    record = make_record()
    first = post_record(api, record)
    later = record.model_copy(
        update={"last_seen": record.last_seen + timedelta(minutes=10), "dwell_s": 900.0}
    )
    updated = post_record(api, later)
    assert updated["id"] == first["id"]
    assert (updated["dwell_s"], updated["last_seen"] > first["last_seen"]) == (900.0, True)


def test_the_closing_state_of_a_pending_incident_is_kept(api: Api) -> None:
    """The rules engine's final state often has the last state's last_seen: it still counts."""
    record = make_record(status="open")
    post_record(api, record)
    closed = post_record(api, record.model_copy(update={"status": "closed"}))
    with api.services.sessions() as session:
        assert session.get(Incident, closed["id"]).record["status"] == "closed"


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"classes": ["no_such_class"]}, 422, "unknown taxonomy classes: no_such_class"),
        (
            {"standard": {"id": 1, "key": "vending", "name_zh": "x", "name_en": "x"}},
            422,
            "clause '3a' is not a clause of standard 1",
        ),
        ({"first_seen": "2026-05-04T10:00:00"}, 422, "first_seen and last_seen need a UTC offset"),
        ({"unexpected": 1}, 422, "Extra inputs are not permitted"),
        ({"schema_version": "shirong.incident/2"}, 422, "shirong.incident/1"),
    ],
)
def test_invalid_records_are_422(
    api: Api, change: dict[str, Any], status: int, message: str
) -> None:
    body = make_record().model_dump(mode="json") | change
    response = api.client.post("/incidents", json=body, headers=api.admin.headers)
    assert response.status_code == status
    assert message in response.text


def test_confirm_creates_a_routed_ticket(api: Api) -> None:
    west = api.squad("west", areas=[{"name": "西区", "polygon": WEST}], cameras=["cam-w"])
    incident = post_record(api, make_record())
    status, result = review(api, incident["id"], action="confirm", note="看得清楚")
    assert status == 200
    assert result["incident"]["status"] == "confirmed"
    ticket = api.ok("GET", f"/tickets/{result['ticket_id']}")
    assert ticket["incident_id"] == incident["id"]
    assert (ticket["status"], ticket["squad_id"], ticket["route_via"]) == ("new", west, "camera")
    assert (ticket["standard_name"], ticket["clause_name"]) == ("无“乱堆乱放”", "乱堆乱放")
    assert ticket["clause_text"].startswith("无擅自在店铺门前")
    assert ticket["evidence"] == incident["evidence"][:2]  # the original frames (原图)
    assert ticket["priority_reasons"] == ["daytime"]  # 10:00 Asia/Shanghai
    assert review(api, incident["id"], action="confirm")[0] == 409


@pytest.mark.parametrize("reason", ["false_positive", "duplicate", "not_a_violation", "other"])
def test_reject_with_a_reason_makes_no_ticket(api: Api, reason: str) -> None:
    incident = post_record(api, make_record())
    status, result = review(api, incident["id"], action="reject", reason=reason)
    assert status == 200
    assert (result["incident"]["status"], result["ticket_id"]) == ("rejected", None)
    assert result["review"]["reason"] == reason
    assert api.ok("GET", "/tickets") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "reject"}, "action 'reject' needs reason"),
        ({"action": "relabel", "box_index": 0}, "action 'relabel' needs class_name"),
        ({"action": "correct_box", "box_index": 0}, "action 'correct_box' needs xyxy"),
        (
            {"action": "correct_box", "box_index": 0, "xyxy": [50, 50, 40, 60]},
            "xyxy must have x2 > x1 and y2 > y1",
        ),
        (
            {"action": "relabel", "box_index": 3, "class_name": "poster"},
            "box_index 3 is out of range: the incident has 1 boxes",
        ),
        (
            {"action": "relabel", "box_index": 0, "class_name": "unicorn"},
            "'unicorn' is not a taxonomy class",
        ),
        ({"action": "reject", "reason": "boring"}, "false_positive"),
    ],
)
def test_invalid_reviews_are_422(api: Api, body: dict[str, Any], message: str) -> None:
    incident = post_record(api, make_record())
    status, result = review(api, incident["id"], **body)
    assert status == 422
    assert message in str(result)


def test_relabel_and_box_corrections_are_kept_for_retraining(api: Api) -> None:
    incident = post_record(api, make_record())
    status, relabel = review(
        api, incident["id"], action="relabel", box_index=0, class_name="cardboard_box"
    )
    assert status == 200 and relabel["incident"]["status"] == "pending"
    assert relabel["incident"]["classes"] == ["cardboard_box"]
    assert (
        relabel["review"]["before"]["class_name"],
        relabel["review"]["after"]["class_name"],
    ) == ("garbage_bag", "cardboard_box")
    status, box = review(
        api, incident["id"], action="correct_box", box_index=0, xyxy=[12, 22, 100, 200]
    )
    assert box["incident"]["boxes"][0]["xyxy"] == [12.0, 22.0, 100.0, 200.0]
    review(api, incident["id"], action="confirm")
    decisions = api.ok("GET", "/reviews")
    assert [d["action"] for d in decisions] == ["relabel", "correct_box", "confirm"]
    assert all(d["incident_id"] == incident["id"] and d["reviewer_id"] for d in decisions)


def test_the_review_service_opens_the_ticket_of_a_confirmation(api: Api) -> None:
    """Whoever records a confirmation (the route, a script) gets its ticket in the same commit."""
    incident = post_record(api, make_record())
    services = api.services
    with services.sessions() as session:
        reviewer = session.get(User, api.actor(UserRole.REVIEWER).id)
        assert reviewer is not None
        confirm = ReviewIn(action=ReviewAction.CONFIRM)
        decision = incidents.review(
            session, services.settings, services.taxonomy, reviewer, incident["id"], confirm
        )
        assert decision.incident.status == "confirmed"
    shown = api.ok("GET", f"/incidents/{incident['id']}")
    assert shown["ticket_id"] is not None
    assert api.ok("GET", f"/tickets/{shown['ticket_id']}")["incident_id"] == incident["id"]


@pytest.mark.parametrize("with_evidence", [True, False])
def test_the_record_view_reads_the_stored_row_as_the_posted_record(
    api: Api, with_evidence: bool
) -> None:
    record = make_record() if with_evidence else make_record(evidence=None)
    incident = post_record(api, record)
    with api.services.sessions() as session:
        row = session.get(Incident, incident["id"])
        assert row is not None
        stored = RecordView.of(row)
    assert stored == RecordView.of_record(record)
    best, opened = sha(f"{record.id}/best-original"), sha(f"{record.id}/opened-original")
    region = [10.0, 20.0, 110.0, 220.0]
    expected = {
        "names": ("无“乱堆乱放”", "乱堆乱放", "测试摄像头"),
        "originals": [opened, best] if with_evidence else [],
        "best_image": best if with_evidence else None,
        "best_region": region if with_evidence else None,
        "regions": [region] * (3 if with_evidence else 1),
    }
    assert {
        "names": (stored.standard_name, stored.clause_name, stored.source_name),
        "originals": stored.originals,
        "best_image": stored.best_image,
        "best_region": stored.best_region,
        "regions": stored.regions,
    } == expected
    assert (stored.id, stored.status, stored.in_priority_hours) == (record.id, "closed", True)


def test_incidents_filter_by_status(api: Api) -> None:
    first = post_record(api, make_record(record_id="00000000-0000-4000-8000-000000000001"))
    post_record(api, make_record(record_id="00000000-0000-4000-8000-000000000002"))
    review(api, first["id"], action="reject", reason="duplicate")
    pending = api.ok("GET", "/incidents", params={"status": "pending"})
    assert [i["record_id"] for i in pending] == ["00000000-0000-4000-8000-000000000002"]
    assert api.client.get("/incidents/999", headers=api.admin.headers).status_code == 404
