"""Recurrence: one situation, one review.

The rules engine gives a situation a new record id whenever it drops out of sight for the
source's cooldown (the demo camera's loop, a wall seen again after a lorry has passed). A new
record at the place and clause of an earlier incident, within the window, is folded into that
incident by its review state instead of being queued anew:

    earlier incident             the new record
    pending                      linked: updates it (last seen, sightings, better evidence)
    confirmed, ticket open       still present (仍存在): an observation on the ticket, no ticket
    rejected                     suppressed and counted, unless its confidence beats the rejected
                                 one's by the margin or a reviewer lifted the suppression
    confirmed, ticket closed     a new incident, a recurrence (复发) of the earlier one

"Open" is any ticket state but closed: a cancelled ticket absorbs sightings too, and one marked
rectified that a camera still sees is exactly what its dispatcher needs to know before closing.
The place: fixed cameras (registered cameras, and sources without GPS) compare regions (the last
observation's and the evidence frames') in the same frame size by IoU; dashcams and GPS photos,
each upload its own source, compare positions across sources by distance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from detection.core import box_iou
from detection.geo import haversine_m
from detection.rules import Incident as IncidentRecord
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import (
    Camera,
    Incident,
    IncidentStatus,
    Review,
    Sighting,
    SightingOutcome,
    Ticket,
    TicketStatus,
    User,
    UserRole,
)
from serving.schemas.incidents import TrailAction
from serving.services.errors import ConflictError, NotFoundError
from serving.services.incident_record import RecordView

CANDIDATES = 50  # earlier incidents compared, newest first
METRES_PER_DEGREE = 111_320.0  # of latitude; a bounding box before the exact distance


@dataclass(frozen=True)
class Recurrence:
    """The settings' recurrence policy."""

    window: timedelta
    min_iou: float
    radius_m: float
    reject_margin: float

    @classmethod
    def of(cls, settings: Settings) -> Recurrence:
        return cls(
            window=timedelta(hours=settings.recurrence_window_hours),
            min_iou=settings.recurrence_min_iou,
            radius_m=settings.recurrence_radius_m,
            reject_margin=settings.recurrence_reject_margin,
        )


@dataclass(frozen=True)
class Earlier:
    """The newest earlier incident of a new record's situation, with its ticket if any."""

    incident: Incident
    ticket: Ticket | None

    @property
    def rectified(self) -> bool:
        """Its ticket was closed: the situation coming back is a recurrence (复发)."""
        return self.ticket is not None and self.ticket.status == TicketStatus.CLOSED.value


def find_earlier(session: Session, record: IncidentRecord, policy: Recurrence) -> Earlier | None:
    """The newest incident of the same clause and place seen (or closed) within the window."""
    if policy.window <= timedelta(0):
        return None
    since = record.first_seen - policy.window
    query = (
        select(Incident, Ticket)
        .outerjoin(Ticket, Ticket.incident_id == Incident.id)
        .where(Incident.clause == record.clause.id)
        .where(or_(Incident.last_seen >= since, Ticket.closed_at >= since))
        .where(Incident.first_seen <= record.last_seen + policy.window)
        .order_by(Incident.id.desc())
        .limit(CANDIDATES)
    )
    query, same_place = (
        _by_region(query, record, policy)
        if _fixed(session, record)
        else _by_distance(query, record, policy)
    )
    for incident, ticket in session.execute(query):
        if same_place(incident):
            return Earlier(incident, ticket)
    return None


def _fixed(session: Session, record: IncidentRecord) -> bool:
    """A registered camera (its GPS is where it stands, not where the object is) or no GPS."""
    if record.location is None:
        return True
    return session.scalar(select(Camera.id).where(Camera.code == record.source.id)) is not None


Candidates = Select[Incident, Ticket]


def _by_region(
    query: Candidates, record: IncidentRecord, policy: Recurrence
) -> tuple[Candidates, Callable[[Incident], bool]]:
    """Same source and frame size, and any pair of their regions (``RecordView.regions``)
    overlapping: one of a scene's several incidents (three groups of bags) moves its last region
    among its objects."""
    mine = RecordView.of_record(record)

    def overlaps(incident: Incident) -> bool:
        theirs = RecordView.of(incident)
        if theirs.frame_size != mine.frame_size:
            return False
        return float(box_iou(mine.regions, theirs.regions).max()) >= policy.min_iou

    return query.where(Incident.source_id == record.source.id), overlaps


def _by_distance(
    query: Candidates, record: IncidentRecord, policy: Recurrence
) -> tuple[Candidates, Callable[[Incident], bool]]:
    assert record.location is not None
    lat, lon = record.location.lat, record.location.lon
    dlat = policy.radius_m / METRES_PER_DEGREE
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    query = query.where(
        Incident.lat.between(lat - dlat, lat + dlat),
        Incident.lon.between(lon - dlon, lon + dlon),
        Incident.source_id.not_in(select(Camera.code)),
    )

    def near(incident: Incident) -> bool:
        assert incident.lat is not None and incident.lon is not None
        return haversine_m(lat, lon, incident.lat, incident.lon) <= policy.radius_m

    return query, near


def fold(earlier: Earlier, record: IncidentRecord, policy: Recurrence) -> SightingOutcome | None:
    """How a new record of the earlier incident's situation is kept: as a sighting of it, or
    (None) as a new incident to review, a recurrence when ``earlier.rectified``."""
    incident = earlier.incident
    if incident.status == IncidentStatus.PENDING.value:
        return SightingOutcome.LINKED
    if incident.status == IncidentStatus.REJECTED.value:
        lifted = incident.suppression_lifted_at is not None
        if lifted or record.confidence > incident.confidence + policy.reject_margin:
            return None
        return SightingOutcome.SUPPRESSED
    if earlier.ticket is None:
        return SightingOutcome.LINKED
    return None if earlier.rectified else SightingOutcome.STILL_PRESENT


def lift_suppression(session: Session, reviewer: User, incident_id: int) -> Incident:
    """Let new sightings of a rejected incident be queued again (the rejection was wrong, or the
    place now shows something that deserves a look); the count so far stays. The review trail
    keeps who lifted it, when, and how many sightings it had suppressed by then."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"incident {incident_id} not found")
    if incident.status != IncidentStatus.REJECTED.value:
        raise ConflictError(
            f"incident {incident_id} is {incident.status}, not rejected: it suppresses nothing"
        )
    if incident.suppression_lifted_at is not None:
        raise ConflictError(
            f"the suppression of incident {incident_id} was already lifted at "
            f"{incident.suppression_lifted_at.isoformat()}"
        )
    at = utcnow()
    incident.suppression_lifted_at, incident.suppression_lifted_by = at, reviewer.id
    session.add(
        Review(
            incident_id=incident.id,
            reviewer_id=reviewer.id,
            action=TrailAction.LIFT_SUPPRESSION.value,
            before={"suppressed": incident.suppressed},
            created_at=at,
        )
    )
    session.commit()
    return incident


@dataclass
class TicketLinks:
    """What recurrence adds to a ticket: its still-present observations and earlier tickets."""

    observations: int = 0
    last_observed_at: datetime | None = None
    last_observation_evidence: list[str] = field(default_factory=list)
    history: list[Ticket] = field(default_factory=list)  # earlier tickets, newest first


def _sees(viewer: User, ticket: Ticket) -> bool:
    if viewer.role != UserRole.SQUAD_OFFICER.value:
        return True
    return viewer.squad_id in (ticket.squad_id, ticket.helping_squad_id)


MAX_HISTORY = 50  # earlier tickets followed back along the recurrence chain


def ticket_links(
    session: Session, viewer: User, tickets: Iterable[Ticket]
) -> dict[int, TicketLinks]:
    """Links of many tickets in a few queries (two, plus two per step back in history); the
    history holds only tickets ``viewer`` may see (squad officers: their squad's)."""
    rows = list(tickets)
    links = {t.id: TicketLinks() for t in rows}
    if not links:
        return links
    counts = (
        select(Sighting.ticket_id, func.count(), func.max(Sighting.id))
        .where(Sighting.ticket_id.in_(links))
        .group_by(Sighting.ticket_id)
    )
    latest: dict[int, int] = {}  # the newest sighting's id → its ticket's id
    for ticket_id, count, last_id in session.execute(counts):
        assert ticket_id is not None
        links[ticket_id].observations = count
        latest[last_id] = ticket_id
    for sighting in session.scalars(select(Sighting).where(Sighting.id.in_(latest))):
        entry = links[latest[sighting.id]]
        entry.last_observed_at = sighting.last_seen
        entry.last_observation_evidence = list(sighting.evidence)
    at = {t.id: t.incident_id for t in rows if t.incident_id is not None}
    _add_history(session, viewer, at, links)
    return links


def _add_history(
    session: Session, viewer: User, at: dict[int, int], links: dict[int, TicketLinks]
) -> None:
    """Walk ``recurrence_of`` back from each ticket's incident ({ticket id: incident id}); it
    points to older incidents only, so the walk ends."""
    for _ in range(MAX_HISTORY):
        query = select(Incident.id, Incident.recurrence_of_id).where(
            Incident.id.in_(set(at.values()))
        )
        parents = {child: parent for child, parent in session.execute(query) if parent}
        at = {ticket: parents[incident] for ticket, incident in at.items() if incident in parents}
        if not at:
            return
        query_tickets = select(Ticket).where(Ticket.incident_id.in_(set(at.values())))
        found = {t.incident_id: t for t in session.scalars(query_tickets)}
        for ticket_id, incident_id in at.items():
            earlier = found.get(incident_id)
            if earlier is not None and _sees(viewer, earlier):
                links[ticket_id].history.append(earlier)
