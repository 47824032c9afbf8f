"""Tickets: creation (from a confirmed incident or a complaint), priority, lifecycle, visibility,
legal holds, and the audit trail (every event is written by ``record_event``, which also queues
the outbox messages announcing it).

Lifecycle (``TRANSITIONS``; any other action in a state is a 409)::

    action     from                                     to
    dispatch   new, rejected                            dispatched (sets the due time)
    accept     dispatched                               accepted
    rectify    accepted (needs an uploaded after-photo) rectified
    close      rectified                                closed
    reject     dispatched, accepted (squad: not ours)   rejected (back to the dispatcher)
    cancel     new, dispatched, accepted, rejected      cancelled
    reopen     rectified, closed, cancelled             dispatched (new due time)
    escalate   dispatched, accepted                     unchanged; adds a helping squad (街呼区应)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from detection.rules import SourceConfig, any_contains
from detection.taxonomy import Taxonomy
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import (
    Blob,
    Camera,
    Incident,
    Priority,
    Squad,
    SquadKind,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    UserRole,
)
from serving.schemas.retention import LegalHoldIn
from serving.schemas.tickets import ActionIn, ComplaintIn, TicketAction
from serving.services import outbox
from serving.services.errors import (
    Code,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from serving.services.incident_record import RecordView
from serving.services.routing import road_flags, route
from serving.services.ticket_view import OPEN_FOR_SQUAD

# The parts of a camera's rules config that say when its incidents fall in the priority period.
SCHEDULE_FIELDS = ("timezone", "priority_hours")

S = TicketStatus
R = UserRole
Changes = dict[str, object]


@dataclass(frozen=True)
class Transition:
    sources: frozenset[TicketStatus]
    target: TicketStatus | None  # None: the status does not change
    roles: frozenset[UserRole]


def _t(sources: set[TicketStatus], target: TicketStatus | None, roles: set[UserRole]) -> Transition:
    return Transition(frozenset(sources), target, frozenset(roles))


TRANSITIONS: dict[TicketAction, Transition] = {
    TicketAction.DISPATCH: _t({S.NEW, S.REJECTED}, S.DISPATCHED, {R.ADMIN, R.DISPATCHER}),
    TicketAction.ACCEPT: _t({S.DISPATCHED}, S.ACCEPTED, {R.ADMIN, R.DISPATCHER, R.SQUAD_OFFICER}),
    TicketAction.RECTIFY: _t({S.ACCEPTED}, S.RECTIFIED, {R.ADMIN, R.SQUAD_OFFICER}),
    TicketAction.CLOSE: _t({S.RECTIFIED}, S.CLOSED, {R.ADMIN, R.DISPATCHER}),
    TicketAction.REJECT: _t(
        {S.DISPATCHED, S.ACCEPTED}, S.REJECTED, {R.ADMIN, R.DISPATCHER, R.SQUAD_OFFICER}
    ),
    TicketAction.CANCEL: _t(
        {S.NEW, S.DISPATCHED, S.ACCEPTED, S.REJECTED}, S.CANCELLED, {R.ADMIN, R.DISPATCHER}
    ),
    TicketAction.REOPEN: _t(
        {S.RECTIFIED, S.CLOSED, S.CANCELLED}, S.DISPATCHED, {R.ADMIN, R.DISPATCHER}
    ),
    TicketAction.ESCALATE: _t(
        {S.DISPATCHED, S.ACCEPTED}, None, {R.ADMIN, R.DISPATCHER, R.SQUAD_OFFICER}
    ),
}

# Roles that may read tickets at all (the ingest account only posts incidents and photos).
READERS = frozenset({R.ADMIN, R.DISPATCHER, R.REVIEWER, R.SQUAD_OFFICER})


def source_schedule(camera: Camera | None) -> SourceConfig:
    """The source's timezone and priority period: a registered camera's, else the rules' defaults.

    Only the schedule fields are read, so a camera whose zones no longer validate (a taxonomy
    change) still gets its tickets prioritised.
    """
    stored = camera.config if camera is not None else {}
    picked = {k: stored[k] for k in SCHEDULE_FIELDS if k in stored}
    return SourceConfig.model_validate({"id": camera.code if camera else "default", **picked})


def in_priority_hours(schedule: SourceConfig, moment: datetime) -> bool:
    """Whether ``moment`` falls in the source's priority period, as the rules engine judges it."""
    return any_contains(schedule.priority_hours, moment.astimezone(schedule.tz))


def priority_for(
    session: Session, road: str | None, in_hours: bool, complaint: bool
) -> tuple[Priority, list[str]]:
    """Priority from the bureau's focus list: model roads, key roads, priority hours, complaints.

    ``in_hours`` is the rules' ``in_priority_hours`` (the source's own timezone and schedule; the
    reason keeps its historical name ``daytime``). Each reason adds one level: none → normal,
    one or two → high, three or more → urgent.
    """
    model, key = road_flags(session, road)
    reasons = [
        name
        for name, present in (
            ("model_road", model),
            ("key_road", key),
            ("daytime", in_hours),
            ("complaint", complaint),
        )
        if present
    ]
    level = Priority.NORMAL if not reasons else Priority.HIGH
    return (Priority.URGENT if len(reasons) >= 3 else level), reasons


def due_at(settings: Settings, priority: Priority, start: datetime) -> datetime:
    hours = {
        Priority.URGENT: settings.sla_hours_urgent,
        Priority.HIGH: settings.sla_hours_high,
        Priority.NORMAL: settings.sla_hours_normal,
    }[priority]
    return start + timedelta(hours=hours)


@dataclass(frozen=True)
class NewTicket:
    clause: str
    description: str
    observed_at: datetime
    lat: float | None
    lon: float | None
    road: str | None
    camera_id: str | None
    evidence: list[str]
    complaint: bool
    incident_id: int | None = None
    # The rules record's in_priority_hours; None (complaints): judged by the source's schedule.
    in_priority_hours: bool | None = None


def create_ticket(
    session: Session, settings: Settings, taxonomy: Taxonomy, actor: User, new: NewTicket
) -> Ticket:
    """Route, prioritise and store a ticket with its 'created' audit event and outbox messages.

    The caller commits, so a ticket and its review decision are one transaction.
    """
    try:
        clause = taxonomy.clause(new.clause)
    except KeyError as exc:
        raise InvalidError(f"clause '{new.clause}' is not in the taxonomy") from exc
    camera = _camera(session, new.camera_id)
    road = new.road or (camera.road if camera is not None else None)
    in_hours = new.in_priority_hours
    if in_hours is None:
        in_hours = in_priority_hours(source_schedule(camera), new.observed_at)
    found = route(session, new.camera_id, new.lat, new.lon, road)
    priority, reasons = priority_for(session, road, in_hours, new.complaint)
    ticket = Ticket(
        incident_id=new.incident_id,
        standard=clause.standard_id,
        clause=clause.id,
        status=S.NEW.value,
        priority=priority.value,
        priority_reasons=reasons,
        description=new.description,
        complaint=new.complaint,
        lat=new.lat,
        lon=new.lon,
        road=road,
        camera_id=new.camera_id,
        squad_id=found.squad_id,
        officer_id=found.officer_id,
        route_via=found.via.value if found.via else None,
        evidence=list(new.evidence),
        observed_at=new.observed_at,
        created_by=actor.id,
    )
    session.add(ticket)
    session.flush()
    changes: Changes = {
        "squad_id": found.squad_id,
        "route_via": ticket.route_via,
        "priority": priority.value,
    }
    record_event(session, settings, taxonomy, ticket, actor, "created", None, changes, "")
    return ticket


def _camera(session: Session, code: str | None) -> Camera | None:
    """The registered camera a ticket comes from (its road, timezone and schedule), if any."""
    if not code:
        return None
    return session.scalar(select(Camera).where(Camera.code == code))


def from_incident(
    session: Session, settings: Settings, taxonomy: Taxonomy, actor: User, incident: Incident
) -> Ticket:
    clause, stored = taxonomy.clause(incident.clause), RecordView.of(incident)
    classes = ", ".join(
        taxonomy.cls(c).name_zh for c in incident.classes if c in taxonomy.class_names
    )
    description = (
        f"{clause.name_zh}：{classes}（规则 {incident.rule}，持续 {incident.dwell_s:.0f} 秒，"
        f"置信度 {incident.confidence:.2f}）"
    )
    return create_ticket(
        session,
        settings,
        taxonomy,
        actor,
        NewTicket(
            clause=incident.clause,
            description=description,
            observed_at=incident.first_seen,
            lat=incident.lat,
            lon=incident.lon,
            road=None,  # the camera's, if it is a registered camera
            camera_id=incident.camera_id,
            evidence=stored.originals,
            complaint=False,
            incident_id=incident.id,
            in_priority_hours=stored.in_priority_hours,
        ),
    )


def from_complaint(
    session: Session, settings: Settings, taxonomy: Taxonomy, actor: User, data: ComplaintIn
) -> Ticket:
    ticket = create_ticket(
        session,
        settings,
        taxonomy,
        actor,
        NewTicket(
            clause=data.clause,
            description=data.description,
            observed_at=data.observed_at or utcnow(),
            lat=data.location.lat if data.location else None,
            lon=data.location.lon if data.location else None,
            road=data.road,
            camera_id=data.camera_id,
            evidence=list(data.evidence),
            complaint=data.complaint,
        ),
    )
    session.commit()
    return ticket


def _visible_query(actor: User) -> Select[Ticket]:
    query = select(Ticket)
    if actor.role == R.SQUAD_OFFICER.value:
        query = query.where(
            or_(Ticket.squad_id == actor.squad_id, Ticket.helping_squad_id == actor.squad_id)
        )
    return query


def get_visible(session: Session, actor: User, ticket_id: int) -> Ticket:
    """The ticket, or 404 also when it exists but belongs to another squad (ids do not leak)."""
    ticket = session.scalar(_visible_query(actor).where(Ticket.id == ticket_id))
    if ticket is None:
        raise NotFoundError(f"ticket {ticket_id} not found")
    return ticket


def get_ticket(session: Session, ticket_id: int) -> Ticket:
    """Any ticket, whichever squad holds it (the admins' legal holds); 404 where there is none."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFoundError(f"ticket {ticket_id} not found")
    return ticket


# Held while a legal hold is placed or lifted, and by retention's plans and runs
# (serving.services.retention): a run either sees a hold or finished before it was placed.
LEGAL_HOLD_LOCK = threading.Lock()


def set_legal_hold(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    actor: User,
    ticket_id: int,
    data: LegalHoldIn,
) -> Ticket:
    """Place or lift the hold; its audit event (``legal_hold``, ``legal_hold_lifted``) is written
    as every ticket event is (``record_event``)."""
    with LEGAL_HOLD_LOCK:
        ticket = get_ticket(session, ticket_id)
        if ticket.legal_hold == data.hold:
            state = "on legal hold" if data.hold else "not on legal hold"
            raise ConflictError(f"ticket {ticket_id} is already {state}")
        now = utcnow()
        ticket.legal_hold = data.hold
        ticket.legal_hold_by = actor.id if data.hold else None
        ticket.legal_hold_reason = data.reason if data.hold else None
        ticket.legal_hold_at = now if data.hold else None
        ticket.updated_at = now
        action = "legal_hold" if data.hold else "legal_hold_lifted"
        changes: Changes = {"legal_hold": [not data.hold, data.hold]}
        status = S(ticket.status)
        record_event(
            session, settings, taxonomy, ticket, actor, action, status, changes, data.reason
        )
        session.commit()
    return ticket


def list_visible(
    session: Session,
    actor: User,
    status: TicketStatus | None,
    squad_id: int | None,
    overdue: bool | None,
    limit: int,
    offset: int,
) -> list[Ticket]:
    query = _visible_query(actor).order_by(Ticket.id)
    if status is not None:
        query = query.where(Ticket.status == status.value)
    if squad_id is not None:
        query = query.where(or_(Ticket.squad_id == squad_id, Ticket.helping_squad_id == squad_id))
    if overdue is not None:
        now = utcnow()
        late = Ticket.status.in_(OPEN_FOR_SQUAD) & (Ticket.due_at < now)
        query = query.where(late if overdue else ~late | Ticket.due_at.is_(None))
    return list(session.scalars(query.limit(limit).offset(offset)))


def list_events(session: Session, actor: User, ticket_id: int) -> list[TicketEvent]:
    get_visible(session, actor, ticket_id)
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    return list(session.scalars(query))


def actors_of(session: Session, events: Sequence[TicketEvent]) -> dict[int, User]:
    """User id → user for the events' actors, in one query (the audit trail shows names)."""
    ids = {e.actor_id for e in events if e.actor_id is not None}
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}


def apply(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    actor: User,
    ticket_id: int,
    action: TicketAction,
    data: ActionIn,
) -> Ticket:
    """Perform an action.

    Checks in order: 404 unseen ticket, 403 wrong role or squad, 409 wrong state, 422 bad input.
    """
    ticket = get_visible(session, actor, ticket_id)
    rule = TRANSITIONS[action]
    role = R(actor.role)
    if role not in rule.roles:
        roles = sorted(r.value for r in rule.roles)
        raise ForbiddenError(
            f"role '{role.value}' may not {action.value} tickets",
            code=Code.ROLE_NOT_ALLOWED,
            params={"role": role.value, "roles": roles},
        )
    if role is R.SQUAD_OFFICER and ticket.squad_id != actor.squad_id:
        raise ForbiddenError(
            f"only the responsible squad may {action.value} ticket {ticket.id}",
            code=Code.NOT_YOUR_SQUAD,
            params={"action": action.value, "ticket_id": ticket.id},
        )
    status = S(ticket.status)
    if status not in rule.sources:
        allowed = sorted(s.value for s in rule.sources)
        raise ConflictError(
            f"cannot {action.value} ticket {ticket.id}: it is {status.value}; "
            f"{action.value} needs one of: {', '.join(allowed)}",
            code=Code.INVALID_TRANSITION,
            params={
                "action": action.value,
                "ticket_id": ticket.id,
                "status": status.value,
                "statuses": allowed,
            },
        )
    now = utcnow()
    changes = _HANDLERS[action](session, settings, ticket, data, now)
    if rule.target is not None:
        ticket.status = rule.target.value
    ticket.updated_at = now
    record_event(
        session, settings, taxonomy, ticket, actor, action.value, status, changes, data.note
    )
    session.commit()
    return ticket


def _dispatch(
    session: Session, settings: Settings, t: Ticket, data: ActionIn, now: datetime
) -> Changes:
    squad_id = data.squad_id or t.squad_id
    if squad_id is None:
        raise InvalidError(f"ticket {t.id} has no routed squad; pass squad_id to dispatch it")
    if session.get(Squad, squad_id) is None:
        raise InvalidError(f"squad {squad_id} does not exist")
    if squad_id != t.squad_id:
        t.officer_id = None
    changes: Changes = {"squad_id": [t.squad_id, squad_id]}
    t.squad_id, t.dispatched_at = squad_id, now
    t.due_at = due_at(settings, Priority(t.priority), now)
    changes["due_at"] = t.due_at.isoformat()
    return changes


def _accept(
    session: Session, settings: Settings, t: Ticket, data: ActionIn, now: datetime
) -> Changes:
    t.accepted_at = now
    return {}


def _rectify(
    session: Session, settings: Settings, t: Ticket, data: ActionIn, now: datetime
) -> Changes:
    if data.after_photo is None:
        raise InvalidError(
            "rectify needs after_photo: upload the photo to /evidence and pass its sha256",
            code=Code.AFTER_PHOTO_REQUIRED,
        )
    if session.get(Blob, data.after_photo) is None:
        raise InvalidError(f"after_photo {data.after_photo} has not been uploaded to /evidence")
    t.after_photo, t.rectified_at = data.after_photo, now
    return {"after_photo": data.after_photo}


def _close(
    session: Session, settings: Settings, t: Ticket, data: ActionIn, now: datetime
) -> Changes:
    t.closed_at = now
    return {}


def _reject(
    session: Session, settings: Settings, t: Ticket, data: ActionIn, now: datetime
) -> Changes:
    if not data.note.strip():
        raise _note_required(TicketAction.REJECT, "why the ticket is sent back")
    return {}


def _note_required(action: TicketAction, why: str) -> InvalidError:
    return InvalidError(
        f"{action.value} needs a note saying {why}",
        code=Code.NOTE_REQUIRED,
        params={"action": action.value},
    )


def _cancel(
    session: Session, settings: Settings, t: Ticket, data: ActionIn, now: datetime
) -> Changes:
    if not data.note.strip():
        raise _note_required(TicketAction.CANCEL, "why")
    return {}


def _reopen(
    session: Session, settings: Settings, t: Ticket, data: ActionIn, now: datetime
) -> Changes:
    if not data.note.strip():
        raise _note_required(TicketAction.REOPEN, "what is still wrong")
    changes: Changes = {"after_photo": [t.after_photo, None]}
    t.after_photo = t.accepted_at = t.rectified_at = t.closed_at = None
    t.dispatched_at = now
    t.due_at = due_at(settings, Priority(t.priority), now)
    changes["due_at"] = t.due_at.isoformat()
    return changes


def _escalate(
    session: Session, settings: Settings, t: Ticket, data: ActionIn, now: datetime
) -> Changes:
    own = session.get(Squad, t.squad_id) if t.squad_id is not None else None
    if own is None or own.kind != SquadKind.AREA.value:
        raise ConflictError(
            f"ticket {t.id} is not held by an area squad; only area squads escalate"
        )
    if data.helping_squad_id is None:
        raise InvalidError("escalate needs helping_squad_id (a specialised squad)")
    helper = session.get(Squad, data.helping_squad_id)
    if helper is None or helper.kind != SquadKind.SPECIALISED.value:
        raise InvalidError(f"helping_squad_id {data.helping_squad_id} is not a specialised squad")
    changes: Changes = {"helping_squad_id": [t.helping_squad_id, helper.id]}
    t.helping_squad_id = helper.id
    return changes


_HANDLERS = {
    TicketAction.DISPATCH: _dispatch,
    TicketAction.ACCEPT: _accept,
    TicketAction.RECTIFY: _rectify,
    TicketAction.CLOSE: _close,
    TicketAction.REJECT: _reject,
    TicketAction.CANCEL: _cancel,
    TicketAction.REOPEN: _reopen,
    TicketAction.ESCALATE: _escalate,
}


def record_event(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    ticket: Ticket,
    actor: User | None,
    action: str,
    before: TicketStatus | None,
    changes: Changes,
    note: str,
    at: datetime | None = None,
) -> None:
    """Append a ticket's audit event and, in the same transaction, the outbox messages announcing
    it: one per active webhook subscribed to ``ticket.<action>``. Every ticket event is written
    here (lifecycle actions, legal holds, retention's removals; ``actor`` None: the service
    itself); ``at`` defaults to now. The caller commits."""
    event = TicketEvent(
        ticket_id=ticket.id,
        actor_id=actor.id if actor else None,
        at=at or utcnow(),
        action=action,
        from_status=before.value if before else None,
        to_status=ticket.status,
        changes=changes,
        note=note,
    )
    session.add(event)
    session.flush()
    outbox.enqueue(session, settings, taxonomy, ticket, event)
