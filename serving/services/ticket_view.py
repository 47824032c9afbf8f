"""How a ticket is shown: clause texts from the taxonomy, overdue flag, local times."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from detection.taxonomy import Taxonomy
from serving.db.models import Priority, Ticket, TicketStatus
from serving.schemas.tickets import TicketOut, TicketRef
from serving.services.recurrence import TicketLinks

# The bureau's clock: report days and the times messages show. Priority hours are not read on it
# but on each source's own timezone and schedule (tickets.source_schedule).
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

# States in which the squad still owes a fix, so a passed due time makes the ticket overdue.
OPEN_FOR_SQUAD = frozenset({TicketStatus.DISPATCHED.value, TicketStatus.ACCEPTED.value})


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    return ticket.status in OPEN_FOR_SQUAD and ticket.due_at is not None and ticket.due_at < now


def ticket_out(
    ticket: Ticket, taxonomy: Taxonomy, now: datetime, links: TicketLinks | None = None
) -> TicketOut:
    """The ticket as shown; ``links`` (``recurrence.ticket_links``) add sightings and history."""
    clause = taxonomy.clause(ticket.clause)
    links = links or TicketLinks()
    return TicketOut(
        id=ticket.id,
        incident_id=ticket.incident_id,
        standard=ticket.standard,
        standard_name=taxonomy.standard(ticket.standard).name_zh,
        clause=ticket.clause,
        clause_name=clause.name_zh,
        clause_text=clause.text_zh,
        status=TicketStatus(ticket.status),
        priority=Priority(ticket.priority),
        priority_reasons=list(ticket.priority_reasons),
        description=ticket.description,
        complaint=ticket.complaint,
        lat=ticket.lat,
        lon=ticket.lon,
        road=ticket.road,
        camera_id=ticket.camera_id,
        squad_id=ticket.squad_id,
        helping_squad_id=ticket.helping_squad_id,
        officer_id=ticket.officer_id,
        route_via=ticket.route_via,
        evidence=list(ticket.evidence),
        after_photo=ticket.after_photo,
        observed_at=ticket.observed_at,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        dispatched_at=ticket.dispatched_at,
        accepted_at=ticket.accepted_at,
        rectified_at=ticket.rectified_at,
        closed_at=ticket.closed_at,
        due_at=ticket.due_at,
        overdue=is_overdue(ticket, now),
        observations=links.observations,
        last_observed_at=links.last_observed_at,
        last_observation_evidence=links.last_observation_evidence,
        history=[
            TicketRef(
                id=t.id,
                status=TicketStatus(t.status),
                observed_at=t.observed_at,
                closed_at=t.closed_at,
            )
            for t in links.history
        ],
    )


def local_time(moment: datetime) -> str:
    """A moment as the bureau reads it: 'YYYY-MM-DD HH:MM' in Asia/Shanghai."""
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
