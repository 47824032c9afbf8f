"""One situation, one review: a new record of a known situation, by the earlier incident's review
state, for a fixed camera (region overlap) and a moving source (GPS distance, across sources)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from detection.errors import ConfigError
from detection.rules.incident import Incident as IncidentRecord
from serving.config import Settings, load_settings
from serving.db.models import Sighting, UserRole
from serving.services.incidents import evidence_of
from tests.serving.helpers import (
    Api,
    error_message,
    make_record,
    make_settings,
    png_bytes,
    post_record,
    sha,
    upload,
)

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
HERE = (36.05, 120.02)
MARGIN = 0.1
PLACES = ("fixed", "moving")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The conftest's settings with recurrence on (24 h window, IoU 0.3, 30 m, margin 0.1)."""
    return make_settings(
        database_url,
        tmp_path,
        recurrence_window_hours=24,
        recurrence_min_iou=0.3,
        recurrence_radius_m=30,
        recurrence_reject_margin=MARGIN,
    )


def rid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def seen(
    place: str,
    n: int,
    *,
    hours: float = 0,
    clause: str = "3a",
    confidence: float = 0.8,
    away: bool = False,
    source: str = "cam-fixed",
) -> IncidentRecord:
    """Record ``n`` of the situation, ``hours`` after the first; ``away``: somewhere else.

    Fixed: the same camera, the region shifted a few pixels (or elsewhere in the frame). Moving:
    another dashcam upload a few metres off (or 220 m off).
    """
    common: dict[str, Any] = {
        "clause_id": clause,
        "record_id": rid(n),
        "first_seen": T0 + timedelta(hours=hours),
        "confidence": confidence,
    }
    if place == "fixed":
        region = [500.0, 500.0, 600.0, 700.0] if away else [10.0 + n, 20.0, 110.0 + n, 220.0]
        return at_region(make_record(source_id=source, location=None, **common), region)
    lat = HERE[0] + (0.002 if away else 0.00003 * n)
    return make_record(source_id=f"dashcam-{n}", location=(lat, HERE[1]), **common)


def at_region(
    record: IncidentRecord, last: list[float], evidence: list[float] | None = None
) -> IncidentRecord:
    """The record with its last observation at ``last``, its evidence frames at ``evidence``."""
    data = record.model_dump(mode="json")
    data["region_xyxy"] = last
    for frame in ("opened", "best"):
        data["evidence"][frame]["region_xyxy"] = evidence or last
    return IncidentRecord.model_validate(data)


def review(api: Api, incident_id: int, **body: Any) -> Any:
    return api.ok("POST", f"/incidents/{incident_id}/reviews", json=body)


def into_state(api: Api, incident_id: int, state: str) -> int | None:
    """Review the incident into ``state``; returns its ticket id."""
    if state == "pending":
        return None
    if state == "rejected":
        review(api, incident_id, action="reject", reason="false_positive")
        return None
    ticket_id = int(review(api, incident_id, action="confirm")["ticket_id"])
    if state == "closed":
        photo = upload(api, png_bytes()).json()["sha256"]
        steps = [
            ("dispatch", {"squad_id": api.squad(f"sq{incident_id}")}),
            ("accept", {}),
            ("rectify", {"after_photo": photo}),
            ("close", {}),
        ]
        for action, body in steps:
            api.ok("POST", f"/tickets/{ticket_id}/{action}", json=body)
    return ticket_id


@dataclass(frozen=True)
class Case:
    state: str  # the earlier incident's
    expect: str  # linked, still_present, suppressed, new (queued) or recurrence
    confidence: float = 0.8  # the new record's; the earlier one's is 0.8
    lift: bool = False  # a reviewer lifted the suppression first


CASES = {
    "pending": Case("pending", "linked"),
    "pending-better-evidence": Case("pending", "linked", confidence=0.9),
    "confirmed-ticket-open": Case("confirmed", "still_present"),
    "rejected": Case("rejected", "suppressed"),
    "rejected-within-margin": Case("rejected", "suppressed", confidence=0.85),
    "rejected-beaten-by-margin": Case("rejected", "new", confidence=0.95),
    "rejected-suppression-lifted": Case("rejected", "new", lift=True),
    "ticket-closed": Case("closed", "recurrence"),
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_new_record_of_a_known_situation(api: Api, place: str, case: Case) -> None:
    first = post_record(api, seen(place, 1))
    ticket_id = into_state(api, first["id"], case.state)
    if case.lift:
        api.ok("DELETE", f"/incidents/{first['id']}/suppression")
    later = seen(place, 2, hours=3, confidence=case.confidence)
    body = post_record(api, later)
    again = post_record(api, later)  # the engine re-posts a record while it is open
    earlier = api.ok("GET", f"/incidents/{first['id']}")
    queue = api.ok("GET", "/incidents", params={"status": "pending"})
    tickets = api.ok("GET", "/tickets")
    if case.expect in ("new", "recurrence"):
        assert again["id"] == body["id"] != first["id"]
        assert [i["id"] for i in queue] == [body["id"]]
        assert earlier["sightings"] == 1
        recurrence = case.expect == "recurrence"
        assert body["recurrence_of"] == (first["id"] if recurrence else None)
        assert earlier["recurrences"] == ([body["id"]] if recurrence else [])
        return
    assert body["id"] == again["id"] == first["id"]
    assert len(api.ok("GET", "/incidents")) == 1
    assert len(tickets) == (1 if ticket_id else 0)
    suppressed = case.expect == "suppressed"
    assert (earlier["sightings"], earlier["suppressed"]) == (2, int(suppressed))
    assert datetime.fromisoformat(earlier["last_seen"]) == later.last_seen
    better = case.expect == "linked" and case.confidence > 0.8
    assert earlier["image"] == sha(f"{rid(2 if better else 1)}/best-original")
    if case.expect == "still_present":
        ticket = api.ok("GET", f"/tickets/{ticket_id}")
        assert (ticket["observations"], ticket["status"]) == (1, "new")
        assert datetime.fromisoformat(ticket["last_observed_at"]) == later.last_seen
        assert ticket["last_observation_evidence"] == [
            sha(f"{rid(2)}/opened-original"),
            sha(f"{rid(2)}/best-original"),
        ]


@pytest.mark.parametrize("place", PLACES)
def test_a_recurrence_ticket_shows_the_earlier_ones(api: Api, place: str) -> None:
    first = post_record(api, seen(place, 1))
    first_ticket = into_state(api, first["id"], "closed")
    second = post_record(api, seen(place, 2, hours=3))
    second_ticket = into_state(api, second["id"], "closed")
    third = post_record(api, seen(place, 3, hours=6))
    assert (second["recurrence_of"], third["recurrence_of"]) == (first["id"], second["id"])
    ticket_id = review(api, third["id"], action="confirm")["ticket_id"]
    history = api.ok("GET", f"/tickets/{ticket_id}")["history"]
    assert [(t["id"], t["status"]) for t in history] == [
        (second_ticket, "closed"),
        (first_ticket, "closed"),
    ]
    listed = {t["id"]: t for t in api.ok("GET", "/tickets")}
    assert [t["id"] for t in listed[ticket_id]["history"]] == [second_ticket, first_ticket]
    assert listed[first_ticket]["history"] == []


NOT_THE_SAME = {
    "outside-the-window": {"hours": 30},
    "another-clause": {"clause": "2a"},
    "elsewhere": {"away": True},
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("change", NOT_THE_SAME.values(), ids=NOT_THE_SAME.keys())
def test_another_situation_is_a_new_incident(api: Api, place: str, change: dict[str, Any]) -> None:
    first = post_record(api, seen(place, 1))
    later = post_record(api, seen(place, 2, **change))
    assert later["id"] != first["id"] and later["recurrence_of"] is None
    assert [i["sightings"] for i in api.ok("GET", "/incidents")] == [1, 1]


def test_another_fixed_camera_is_another_situation(api: Api) -> None:
    post_record(api, seen("fixed", 1))
    post_record(api, seen("fixed", 2, source="cam-other"))
    assert len(api.ok("GET", "/incidents")) == 2


def test_a_registered_camera_compares_regions_not_its_gps(api: Api) -> None:
    """A camera's records carry where it stands: two walls it sees are not one situation."""
    config = {
        "zones": [{"id": "walk", "type": "pavement", "polygon": [[0, 0], [640, 0], [0, 480]]}]
    }
    camera = {"code": "cam-gps", "stream_url": "rtsp://127.0.0.1:9/x", "enabled": False}
    api.ok("POST", "/cameras", json=camera | {"lat": HERE[0], "lon": HERE[1], "config": config})

    def at_camera(n: int, region: list[float]) -> IncidentRecord:
        return at_region(make_record(record_id=rid(n), source_id="cam-gps"), region)

    first = post_record(api, at_camera(1, [10.0, 20.0, 110.0, 220.0]))
    other_wall = post_record(api, at_camera(2, [800.0, 20.0, 900.0, 220.0]))
    same_wall = post_record(api, at_camera(3, [12.0, 20.0, 112.0, 220.0]))
    assert other_wall["id"] != first["id"] and same_wall["id"] == first["id"]


def test_a_situation_whose_last_region_moved_matches_by_its_evidence(api: Api) -> None:
    """A scene of several bag groups: an incident's last region wanders among its objects."""
    left, middle, right = (
        [10.0, 20.0, 110.0, 220.0],
        [400.0, 20.0, 500.0, 220.0],
        [800.0, 20.0, 900.0, 220.0],
    )
    first = post_record(api, at_region(seen("fixed", 1), last=left, evidence=middle))
    moved = post_record(api, at_region(seen("fixed", 2, hours=1), last=middle, evidence=right))
    elsewhere = post_record(api, at_region(seen("fixed", 3, hours=1), last=right, evidence=right))
    assert moved["id"] == first["id"] and elsewhere["id"] != first["id"]


def test_a_camera_loop_queues_each_situation_once(api: Api) -> None:
    """The demo's case: a camera that comes back to the same three scenes every few minutes."""
    regions = [[10.0, 20.0, 110.0, 220.0], [400.0, 20.0, 500.0, 220.0], [10.0, 600.0, 300.0, 700.0]]
    n = 0
    for loop in range(4):
        for region in regions:
            n += 1
            start = T0 + timedelta(minutes=10 * loop)
            record = make_record(record_id=rid(n), first_seen=start, location=None)
            post_record(api, at_region(record, region))
    queue = api.ok("GET", "/incidents", params={"status": "pending"})
    assert [i["sightings"] for i in queue] == [4, 4, 4]


def test_lifting_a_suppression_that_is_not_there(api: Api) -> None:
    incident = post_record(api, seen("fixed", 1))

    def lift(incident_id: int) -> tuple[int, str]:
        response = api.client.delete(
            f"/incidents/{incident_id}/suppression", headers=api.admin.headers
        )
        return response.status_code, error_message(response)

    assert lift(999) == (404, "incident 999 not found")
    assert lift(incident["id"]) == (
        409,
        f"incident {incident['id']} is pending, not rejected: it suppresses nothing",
    )
    review(api, incident["id"], action="reject", reason="false_positive")
    lifted = api.ok("DELETE", f"/incidents/{incident['id']}/suppression")
    assert lifted["suppression_lifted_at"] is not None
    status, message = lift(incident["id"])
    assert status == 409
    assert message.startswith(f"the suppression of incident {incident['id']} was already lifted")


def test_lifting_a_suppression_is_in_the_review_trail(api: Api) -> None:
    reviewer = api.actor(UserRole.REVIEWER)
    incident = post_record(api, seen("fixed", 1))
    review(api, incident["id"], action="reject", reason="false_positive")
    post_record(api, seen("fixed", 2, hours=1))
    post_record(api, seen("fixed", 3, hours=2))
    lifted = api.ok("DELETE", f"/incidents/{incident['id']}/suppression", reviewer)
    again = api.client.delete(f"/incidents/{incident['id']}/suppression", headers=reviewer.headers)
    assert again.status_code == 409  # refused, and nothing written
    trail = [r for r in api.ok("GET", "/reviews") if r["incident_id"] == incident["id"]]
    assert [r["action"] for r in trail] == ["reject", "lift_suppression"]
    lift = trail[-1]
    assert (lift["reviewer_id"], lift["before"], lift["after"]) == (
        reviewer.id,
        {"suppressed": 2},
        None,
    )
    lifted_at = datetime.fromisoformat(lifted["suppression_lifted_at"])
    assert datetime.fromisoformat(lift["created_at"]) == lifted_at
    posted = api.client.post(
        f"/incidents/{incident['id']}/reviews",
        json={"action": "lift_suppression"},
        headers=reviewer.headers,
    )
    assert posted.status_code == 422  # a trail entry, not a decision to post


def test_counters_of_linked_suppressed_and_recurrence(api: Api) -> None:
    def counts() -> dict[str, float]:
        text = api.client.get("/metrics", headers=api.admin.headers).text
        prefix = "shirong_incident_recurrences_total{outcome="
        lines = [line for line in text.splitlines() if line.startswith(prefix)]
        return {line.split('"')[1]: float(line.split()[-1]) for line in lines}

    before = counts()
    first = post_record(api, seen("fixed", 1))
    post_record(api, seen("fixed", 2, hours=1))
    into_state(api, first["id"], "closed")
    post_record(api, seen("fixed", 3, hours=2))
    after = counts()
    gained = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert gained == {"linked": 1, "recurrence": 1}


SETTINGS_OUT_OF_RANGE = {
    "recurrence_window_hours": -1,
    "recurrence_min_iou": 1.5,
    "recurrence_radius_m": 0,
    "recurrence_reject_margin": 2,
}


@pytest.mark.parametrize(("name", "value"), SETTINGS_OUT_OF_RANGE.items())
def test_recurrence_settings_out_of_range_are_refused_by_name(
    name: str, value: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(env="development", **{name: value})  # type: ignore[arg-type]
    monkeypatch.setenv("SHIRONG_ENV", "development")
    monkeypatch.setenv(f"SHIRONG_{name.upper()}", str(value))
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_a_sighting_keeps_every_file_its_records_brought(api: Api) -> None:
    """Retention removes a sighting's files with its incident: none of them may go unrecorded."""
    post_record(api, seen("fixed", 1))
    first, better = seen("fixed", 2, confidence=0.7), seen("fixed", 2, confidence=0.9)
    better = better.model_copy(update={"evidence": seen("fixed", 3).evidence})
    post_record(api, first)
    post_record(api, better)
    with api.services.sessions() as session:
        sighting = session.scalars(select(Sighting)).one()
        assert sighting.files == list(dict.fromkeys(evidence_of(first) + evidence_of(better)))
