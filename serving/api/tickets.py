"""Tickets: complaints, listing, lifecycle actions and the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from serving import metrics
from serving.api.deps import DispatcherUser, IdPath, ServicesDep, SessionDep, StaffUser
from serving.db.base import utcnow
from serving.db.models import Ticket, TicketStatus
from serving.schemas.common import MAX_ID
from serving.schemas.tickets import ActionIn, ComplaintIn, TicketAction, TicketEventOut, TicketOut
from serving.services import recurrence, tickets
from serving.services.ticket_view import ticket_out

router = APIRouter(prefix="/tickets", tags=["tickets"])


def _shown(
    session: SessionDep, services: ServicesDep, user: StaffUser, rows: list[Ticket]
) -> list[TicketOut]:
    """Tickets as shown, with their still-present sightings and history (复发)."""
    links, now = recurrence.ticket_links(session, user, rows), utcnow()
    return [ticket_out(t, services.taxonomy, now, links[t.id]) for t in rows]


@router.post("", response_model=TicketOut, status_code=status.HTTP_201_CREATED)
def create_ticket(
    data: ComplaintIn, user: DispatcherUser, services: ServicesDep, session: SessionDep
) -> TicketOut:
    """Open a ticket from a citizen complaint or a patrol finding."""
    ticket = tickets.from_complaint(session, services.settings, services.taxonomy, user, data)
    return ticket_out(ticket, services.taxonomy, utcnow())


@router.get("", response_model=list[TicketOut])
def list_tickets(
    user: StaffUser,
    services: ServicesDep,
    session: SessionDep,
    status: TicketStatus | None = None,
    squad_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[TicketOut]:
    """Tickets the user may see (squad officers: their squad's and those it helps with)."""
    rows = tickets.list_visible(session, user, status, squad_id, overdue, limit, offset)
    return _shown(session, services, user, rows)


@router.get("/{ticket_id}", response_model=TicketOut)
def get_ticket(
    ticket_id: IdPath, user: StaffUser, services: ServicesDep, session: SessionDep
) -> TicketOut:
    return _shown(session, services, user, [tickets.get_visible(session, user, ticket_id)])[0]


@router.get("/{ticket_id}/events", response_model=list[TicketEventOut])
def ticket_events(ticket_id: IdPath, user: StaffUser, session: SessionDep) -> list[TicketEventOut]:
    """The audit trail: who (id, login and full name) did what, when, and what changed."""
    events = tickets.list_events(session, user, ticket_id)
    actors = tickets.actors_of(session, events)
    out = []
    for event in events:
        shown = TicketEventOut.model_validate(event)
        actor = actors.get(event.actor_id) if event.actor_id is not None else None
        if actor is not None:
            shown.actor_username, shown.actor_name = actor.username, actor.full_name or None
        out.append(shown)
    return out


@router.post("/{ticket_id}/{action}", response_model=TicketOut)
def ticket_action(
    ticket_id: IdPath,
    action: TicketAction,
    data: ActionIn,
    user: StaffUser,
    services: ServicesDep,
    session: SessionDep,
) -> TicketOut:
    """Move a ticket through its lifecycle; an action not allowed in the current state is 409."""
    ticket = tickets.apply(
        session, services.settings, services.taxonomy, user, ticket_id, action, data
    )
    metrics.TICKET_ACTIONS.labels(action=action.value).inc()
    return _shown(session, services, user, [ticket])[0]
