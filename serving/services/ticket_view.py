"""How a ticket is shown: clause texts from the taxonomy, overdue flag, links."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from detection.taxonomy import Taxonomy
from serving.db.models import Priority, Ticket, TicketStatus
from serving.schemas.tickets import TicketOut

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # the bureau's clock: priority hours, report days

# States in which the squad still owes a fix, so a passed due time makes the ticket overdue.
OPEN_FOR_SQUAD = frozenset({TicketStatus.DISPATCHED.value, TicketStatus.ACCEPTED.value})


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    return ticket.status in OPEN_FOR_SQUAD and ticket.due_at is not None and ticket.due_at < now


def ticket_out(ticket: Ticket, taxonomy: Taxonomy, now: datetime) -> TicketOut:
    clause = taxonomy.clause(ticket.clause)
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
    )


def evidence_url(base_url: str, sha256: str) -> str:
    return f"{base_url.rstrip('/')}/evidence/{sha256}"


def local_time(moment: datetime) -> str:
    """A moment as the bureau reads it: 'YYYY-MM-DD HH:MM' in Asia/Shanghai."""
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
