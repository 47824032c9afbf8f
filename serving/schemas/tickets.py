"""Tickets, their actions and audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import AwareDatetime, Field

from serving.db.models import Priority, TicketStatus
from serving.schemas import OutSchema, Schema
from serving.schemas.common import ClauseId, Location, Note, RowId, Sha256, Text100


class TicketAction(StrEnum):
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RECTIFY = "rectify"
    CLOSE = "close"
    REJECT = "reject"
    CANCEL = "cancel"
    REOPEN = "reopen"
    ESCALATE = "escalate"


class ComplaintIn(Schema):
    """A ticket opened by a dispatcher from a citizen complaint (or a patrol finding)."""

    clause: ClauseId
    description: str = Field(min_length=1, max_length=2000, description="What was reported.")
    location: Location | None = Field(default=None, description="Where, if known.")
    road: Text100 | None = Field(default=None, description="Road name, if known.")
    camera_id: Text100 | None = Field(default=None, description="Camera that sees it, if any.")
    evidence: list[Sha256] = Field(default_factory=list, max_length=50, description="Photos.")
    observed_at: AwareDatetime | None = Field(
        default=None,
        ge=datetime(2000, 1, 1, tzinfo=UTC),
        lt=datetime(2100, 1, 1, tzinfo=UTC),
        description="When it was seen (default: now); 2000-2099.",
    )
    complaint: bool = Field(default=True, description="From a citizen complaint (raises priority).")


class ActionIn(Schema):
    note: Note
    squad_id: RowId | None = Field(
        default=None, description="dispatch: squad to send to (default: the routed one)."
    )
    helping_squad_id: RowId | None = Field(
        default=None, description="escalate: specialised squad asked to help (街呼区应)."
    )
    after_photo: Sha256 | None = Field(
        default=None, description="rectify: uploaded after-photo proving the fix."
    )


class TicketRef(Schema):
    """An earlier ticket of the same situation."""

    id: int
    status: TicketStatus
    observed_at: datetime
    closed_at: datetime | None


class TicketOut(Schema):
    id: int
    incident_id: int | None
    standard: int
    standard_name: str
    clause: str
    clause_name: str
    clause_text: str
    status: TicketStatus
    priority: Priority
    priority_reasons: list[str]
    description: str
    complaint: bool
    lat: float | None
    lon: float | None
    road: str | None
    camera_id: str | None
    squad_id: int | None
    helping_squad_id: int | None
    officer_id: int | None
    route_via: str | None
    evidence: list[str]
    after_photo: str | None
    observed_at: datetime
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None
    accepted_at: datetime | None
    rectified_at: datetime | None
    closed_at: datetime | None
    due_at: datetime | None
    overdue: bool
    observations: int = Field(
        default=0,
        description="Times a camera or patrol saw the situation still present (仍存在) after the "
        "ticket was opened; no new ticket was made for them.",
    )
    last_observed_at: datetime | None = Field(
        default=None, description="The latest of those sightings."
    )
    last_observation_evidence: list[str] = Field(
        default=[], description="Original frames (SHA-256) of the latest sighting."
    )
    history: list[TicketRef] = Field(
        default=[],
        description="Earlier tickets of the same situation, newest first: it came back (复发) "
        "after they were closed.",
    )


class TicketEventOut(OutSchema):
    id: int
    ticket_id: int
    actor_id: int | None
    actor_username: str | None = Field(
        default=None, description="Who did it (login name); null for the system."
    )
    actor_name: str | None = Field(
        default=None, description="Their full name, where one is set; else null."
    )
    at: datetime
    action: str
    from_status: str | None
    to_status: str
    changes: dict[str, object]
    note: str
