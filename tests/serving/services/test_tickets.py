"""Ticket lifecycle (table-driven), visibility by squad, escalation, priority, due times, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from serving.db.base import utcnow
from serving.db.models import Ticket, UserRole
from serving.schemas.tickets import TicketAction
from serving.services.tickets import TRANSITIONS
from tests.serving.helpers import NIGHT, World, error_message

NOON = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


PATHS = {
    "new": [],
    "dispatched": ["dispatch"],
    "accepted": ["dispatch", "accept"],
    "rectified": ["dispatch", "accept", "rectify"],
    "closed": ["dispatch", "accept", "rectify", "close"],
    "rejected": ["dispatch", "reject"],
    "cancelled": ["cancel"],
}
ALLOWED = {
    "new": {"dispatch": "dispatched", "cancel": "cancelled"},
    "dispatched": {
        "accept": "accepted",
        "reject": "rejected",
        "cancel": "cancelled",
        "escalate": "dispatched",
    },
    "accepted": {
        "rectify": "rectified",
        "reject": "rejected",
        "cancel": "cancelled",
        "escalate": "accepted",
    },
    "rectified": {"close": "closed", "reopen": "dispatched"},
    "closed": {"reopen": "dispatched"},
    "rejected": {"dispatch": "dispatched", "cancel": "cancelled"},
    "cancelled": {"reopen": "dispatched"},
}
ACTIONS = ("dispatch", "accept", "rectify", "close", "reject", "cancel", "reopen", "escalate")


@pytest.mark.parametrize("start", list(PATHS))
def test_lifecycle_transitions(world: World, start: str) -> None:
    """Every action from every state: the allowed ones reach their target, the others are 409."""
    for action in ACTIONS:
        ticket = world.ticket()
        world.drive(ticket["id"], PATHS[start])
        response = world.act(ticket["id"], action, **world.body_for(action))
        if action in ALLOWED[start]:
            assert response.status_code == 200, (start, action, response.text)
            assert response.json()["status"] == ALLOWED[start][action]
        else:
            assert response.status_code == 409, (start, action, response.text)
            assert response.json()["detail"].startswith(
                f"cannot {action} ticket {ticket['id']}: it is {start}; {action} needs one of: "
            )


INPUT_ERRORS: list[tuple[list[str], str, dict[str, Any], str]] = [
    ([], "dispatch", {"squad_id": 999}, "squad 999 does not exist"),
    (
        ["dispatch", "accept"],
        "rectify",
        {},
        "rectify needs after_photo: upload the photo to /evidence and pass its sha256",
    ),
    (
        ["dispatch", "accept"],
        "rectify",
        {"after_photo": "ab" * 32},
        f"after_photo {'ab' * 32} has not been uploaded to /evidence",
    ),
    (["dispatch"], "reject", {}, "reject needs a note saying why the ticket is sent back"),
    ([], "cancel", {"note": "  "}, "cancel needs a note saying why"),
    (["cancel"], "reopen", {}, "reopen needs a note saying what is still wrong"),
    (["dispatch"], "escalate", {}, "escalate needs helping_squad_id (a specialised squad)"),
]


def test_action_input_errors_are_422(world: World) -> None:
    """One app for the whole table (each row on a fresh ticket); failures name the row."""
    for path, action, body, message in INPUT_ERRORS:
        ticket = world.ticket()
        world.drive(ticket["id"], path)
        response = world.act(ticket["id"], action, **body)
        assert (response.status_code, error_message(response)) == (422, message), action


def test_unrouted_ticket_needs_a_squad_to_dispatch(world: World) -> None:
    ticket = world.ticket(camera_id=None)
    assert ticket["squad_id"] is None
    response = world.act(ticket["id"], "dispatch")
    assert error_message(response) == (
        f"ticket {ticket['id']} has no routed squad; pass squad_id to dispatch it"
    )
    assert world.act(ticket["id"], "dispatch", squad_id=world.east).json()["squad_id"] == world.east


def test_squad_officers_see_only_their_squads_tickets(world: World) -> None:
    ticket = world.ticket()
    world.drive(ticket["id"], ["dispatch"])
    api, tid = world.api, ticket["id"]
    assert api.client.get(f"/tickets/{tid}", headers=world.west_officer.headers).status_code == 200
    for outsider in (world.east_officer, world.ktv_officer):
        response = api.client.get(f"/tickets/{tid}", headers=outsider.headers)
        assert (response.status_code, response.json()) == (
            404,
            {"detail": f"ticket {tid} not found", "code": "not_found", "params": {}},
        )
        assert api.client.get(f"/tickets/{tid}/events", headers=outsider.headers).status_code == 404
        assert world.act(tid, "accept", outsider).status_code == 404
        assert api.ok("GET", "/tickets", outsider) == []
    assert [t["id"] for t in api.ok("GET", "/tickets", world.west_officer)] == [tid]


def test_escalation_brings_in_a_helping_squad(world: World) -> None:
    ticket = world.ticket()
    world.drive(ticket["id"], ["dispatch"])
    tid = ticket["id"]
    escalated = world.act(
        tid, "escalate", world.west_officer, helping_squad_id=world.ktv, note="街呼区应"
    )
    assert escalated.status_code == 200
    assert (escalated.json()["helping_squad_id"], escalated.json()["status"]) == (
        world.ktv,
        "dispatched",
    )
    helper = world.ktv_officer
    assert world.api.client.get(f"/tickets/{tid}", headers=helper.headers).status_code == 200
    assert [t["id"] for t in world.api.ok("GET", "/tickets", helper)] == [tid]
    refused = world.act(tid, "accept", helper)
    assert (refused.status_code, refused.json()) == (
        403,
        {
            "detail": f"only the responsible squad may accept ticket {tid}",
            "code": "not_your_squad",
            "params": {"action": "accept", "ticket_id": tid},
        },
    )
    assert world.act(tid, "accept", world.west_officer).status_code == 200


ESCALATION_ERRORS = [
    ("ktv", "ktv", 409, "is not held by an area squad; only area squads escalate"),
    ("west", "east", 422, "is not a specialised squad"),
    ("west", None, 422, "escalate needs helping_squad_id"),
]


def test_escalation_rules(world: World) -> None:
    for owner, helper, status, message in ESCALATION_ERRORS:
        ticket = world.ticket()
        world.act(ticket["id"], "dispatch", squad_id=getattr(world, owner))
        body = {"helping_squad_id": getattr(world, helper)} if helper else {}
        response = world.act(ticket["id"], "escalate", **body)
        assert response.status_code == status, (owner, helper)
        assert message in error_message(response)


NOT_ALLOWED = [
    (UserRole.REVIEWER, "dispatch", []),
    (UserRole.SQUAD_OFFICER, "dispatch", []),
    (UserRole.SQUAD_OFFICER, "close", ["dispatch", "accept", "rectify"]),
    (UserRole.SQUAD_OFFICER, "cancel", ["dispatch"]),
    (UserRole.SQUAD_OFFICER, "reopen", ["dispatch", "accept", "rectify"]),
    (UserRole.DISPATCHER, "rectify", ["dispatch", "accept"]),
]


def allowed_roles(action: str) -> list[str]:
    return sorted(r.value for r in TRANSITIONS[TicketAction(action)].roles)


def test_roles_that_may_not_act_get_403(world: World) -> None:
    for role, action, path in NOT_ALLOWED:
        ticket = world.ticket()
        world.drive(ticket["id"], path)
        actor = world.west_officer if role is UserRole.SQUAD_OFFICER else world.api.actor(role)
        response = world.act(ticket["id"], action, actor, **world.body_for(action))
        assert (response.status_code, response.json()) == (
            403,
            {
                "detail": f"role '{role.value}' may not {action} tickets",
                "code": "role_not_allowed",
                "params": {"role": role.value, "roles": allowed_roles(action)},
            },
        )


def test_officer_flow_and_audit_trail(world: World) -> None:
    ticket = world.ticket()
    tid, officer = ticket["id"], world.west_officer
    assert world.act(tid, "dispatch", world.dispatcher, note="请处理").status_code == 200
    assert world.act(tid, "accept", officer).status_code == 200
    rectified = world.act(tid, "rectify", officer, after_photo=world.photo, note="已清理")
    assert rectified.json()["after_photo"] == world.photo
    closed = world.act(tid, "close", world.dispatcher).json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    events = world.api.ok("GET", f"/tickets/{tid}/events", officer)
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
        ("created", None, "new"),
        ("dispatch", "new", "dispatched"),
        ("accept", "dispatched", "accepted"),
        ("rectify", "accepted", "rectified"),
        ("close", "rectified", "closed"),
    ]
    assert [e["actor_id"] for e in events] == [
        world.dispatcher.id,
        world.dispatcher.id,
        officer.id,
        officer.id,
        world.dispatcher.id,
    ]
    assert events[1]["note"] == "请处理"
    assert events[3]["changes"] == {"after_photo": world.photo}
    assert events[0]["changes"] == {
        "squad_id": world.west,
        "route_via": "camera",
        "priority": "normal",
    }


def test_due_time_and_overdue_flag(world: World) -> None:
    ticket = world.ticket()
    dispatched = world.act(ticket["id"], "dispatch").json()
    due = datetime.fromisoformat(dispatched["due_at"])
    start = datetime.fromisoformat(dispatched["dispatched_at"])
    assert due - start == timedelta(hours=world.api.services.settings.sla_hours_normal)
    assert dispatched["overdue"] is False
    assert world.api.ok("GET", "/tickets", params={"overdue": True}) == []
    with world.api.services.sessions() as session:
        session.execute(update(Ticket).values(due_at=utcnow() - timedelta(minutes=1)))
        session.commit()
    assert world.api.ok("GET", f"/tickets/{ticket['id']}")["overdue"] is True
    assert [t["id"] for t in world.api.ok("GET", "/tickets", params={"overdue": True})] == [
        ticket["id"]
    ]
    world.act(ticket["id"], "accept")
    world.act(ticket["id"], "rectify", after_photo=world.photo)
    assert world.api.ok("GET", f"/tickets/{ticket['id']}")["overdue"] is False


PRIORITIES = [
    (None, NIGHT, False, "normal", []),
    (None, NOON, False, "high", ["daytime"]),
    (None, NIGHT, True, "high", ["complaint"]),
    ("香江路", NIGHT, False, "high", ["model_road"]),
    ("香江路", NOON, False, "high", ["model_road", "daytime"]),
    ("香江路", NOON, True, "urgent", ["model_road", "daytime", "complaint"]),
]
SLA_HOURS = {"normal": 24, "high": 8, "urgent": 2}


def test_priority_and_due_time(world: World) -> None:
    for road, observed, complaint, priority, reasons in PRIORITIES:
        ticket = world.ticket(road=road, observed_at=observed.isoformat(), complaint=complaint)
        assert (ticket["priority"], ticket["priority_reasons"]) == (priority, reasons)
        dispatched = world.act(ticket["id"], "dispatch", squad_id=world.east).json()
        due = datetime.fromisoformat(dispatched["due_at"])
        assert due - datetime.fromisoformat(dispatched["dispatched_at"]) == timedelta(
            hours=SLA_HOURS[priority]
        )


def test_complaint_routes_by_road(world: World) -> None:
    ticket = world.ticket(camera_id=None, road="香江路", complaint=True)
    assert (ticket["squad_id"], ticket["route_via"], ticket["complaint"]) == (
        world.east,
        "road",
        True,
    )


def test_unknown_ticket_is_404(world: World) -> None:
    response = world.act(12345, "dispatch")
    assert (response.status_code, response.json()["detail"]) == (404, "ticket 12345 not found")
    assert (
        world.api.client.get("/tickets/12345", headers=world.api.admin.headers).status_code == 404
    )
