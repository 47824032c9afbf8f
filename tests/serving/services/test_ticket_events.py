"""The audit trail names who acted (login and full name), loaded in a constant number of queries."""

from __future__ import annotations

from sqlalchemy import update

from serving.db.models import User, UserRole
from tests.serving.helpers import World, counted


def events(w: World, ticket_id: int) -> list[dict[str, object]]:
    return list(w.api.ok("GET", f"/tickets/{ticket_id}/events", w.dispatcher))


def test_events_carry_the_actors_names(world: World) -> None:
    with world.api.services.sessions() as session:
        session.execute(
            update(User).where(User.id == world.west_officer.id).values(full_name="王小明")
        )
        session.commit()
    ticket = world.ticket()
    world.drive(ticket["id"], ["dispatch"])  # as admin
    accepted = world.act(ticket["id"], "accept", world.west_officer)
    assert accepted.status_code == 200, accepted.text
    shown = [
        (e["action"], e["actor_id"], e["actor_username"], e["actor_name"])
        for e in events(world, ticket["id"])
    ]
    assert shown == [
        ("created", world.dispatcher.id, world.dispatcher.username, None),
        ("dispatch", world.api.admin.id, world.api.admin.username, None),
        ("accept", world.west_officer.id, world.west_officer.username, "王小明"),
    ]


def test_names_are_loaded_in_a_constant_number_of_queries(world: World) -> None:
    """Before: no names at all; a lookup per event would grow with the trail."""
    short, long = world.ticket(), world.ticket()
    world.drive(long["id"], ["dispatch"])
    for _ in range(3):  # each round by other people: send back, dispatch again
        officer = world.api.actor(UserRole.SQUAD_OFFICER, world.west)
        dispatcher = world.api.actor(UserRole.DISPATCHER)
        sent_back = world.act(long["id"], "reject", officer, note="不属于本中队")
        assert sent_back.status_code == 200, sent_back.text
        again = world.act(long["id"], "dispatch", dispatcher, squad_id=world.west)
        assert again.status_code == 200, again.text
    sizes = {}
    for ticket in (short, long):
        with counted(world.api) as counts:
            trail = events(world, ticket["id"])
        assert all(e["actor_username"] for e in trail)
        sizes[len({e["actor_id"] for e in trail})] = counts["statements"]
    assert sorted(sizes) == [1, 8] and len(set(sizes.values())) == 1, sizes
