"""Tickets: complaints, listing, lifecycle actions and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from serving import metrics
from serving.api.conditional import NOT_MODIFIED, IfNoneMatch, conditional
from serving.api.deps import (
    DispatcherUser,
    IdPath,
    Services,
    ServicesDep,
    SessionDep,
    StaffUser,
    TokenDep,
    staff_user,
)
from serving.db.base import utcnow
from serving.db.models import Ticket, TicketStatus
from serving.schemas.common import MAX_ID
from serving.schemas.tickets import ActionIn, ComplaintIn, TicketAction, TicketEventOut, TicketOut
from serving.services import recurrence, tickets
from serving.services.auth import token_hash
from serving.services.ticket_view import ticket_out

router = APIRouter(prefix="/tickets", tags=["tickets"])
_TICKET_LIST = TypeAdapter(list[TicketOut])


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


@router.get("", response_model=list[TicketOut], responses=NOT_MODIFIED)
async def list_tickets(
    services: ServicesDep,
    credentials: TokenDep,
    status: TicketStatus | None = None,
    squad_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Tickets the user may see (squad officers: their squad's and those it helps with).

    Boards poll this: the answer is reused until this process writes anything, for at most a
    second (``serving.services.read_cache``), and carries an ETag (304 while unchanged). A poll
    answered from there costs no thread hop and no query; otherwise the login and role check
    (as ``StaffUser``) and the query run in one thread hop.
    """

    query = _Query(status, squad_id, overdue, limit, offset)
    token = credentials.credentials if credentials else None
    key = ("tickets", token_hash(services.settings, token) if token else None, query)
    build = partial(run_in_threadpool, _answer, services, credentials, query)
    return conditional(await services.reads.shared(key, build), if_none_match)


@dataclass(frozen=True)
class _Query:
    status: TicketStatus | None
    squad_id: int | None
    overdue: bool | None
    limit: int
    offset: int


def _answer(
    services: Services, credentials: HTTPAuthorizationCredentials | None, query: _Query
) -> bytes:
    """Log in, check the role, read and render: one thread hop."""
    q = query
    with services.sessions() as session:
        user = staff_user(services, session, credentials)
        rows = tickets.list_visible(
            session, user, q.status, q.squad_id, q.overdue, q.limit, q.offset
        )
        return _TICKET_LIST.dump_json(_shown(session, services, user, rows))


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
