"""Webhook endpoints, the outbox and delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, HttpUrl, UrlConstraints, field_validator

from serving.db.models import OutboxStatus, WebhookFormat
from serving.schemas import OutSchema, Schema
from serving.schemas.common import RowId, Text100
from serving.schemas.tickets import TicketAction

ALL_EVENTS = ["ticket.created", *(f"ticket.{a.value}" for a in TicketAction)]


class WebhookIn(Schema):
    name: Text100
    url: Annotated[HttpUrl, UrlConstraints(max_length=500)] = Field(
        description="Endpoint that receives POSTs (e.g. a WeCom robot URL)."
    )
    format: WebhookFormat = Field(default=WebhookFormat.JSON, description="json or wecom.")
    squad_id: RowId | None = Field(default=None, description="Only this squad's tickets.")
    events: list[str] = Field(
        default_factory=lambda: list(ALL_EVENTS),
        min_length=1,
        description=f"Events to send; any of {', '.join(ALL_EVENTS)}.",
    )

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        unknown = sorted(set(events) - set(ALL_EVENTS))
        if unknown:
            raise ValueError(f"unknown events: {', '.join(unknown)}")
        return events


class WebhookOut(OutSchema):
    id: int
    name: str
    url: str
    format: WebhookFormat
    squad_id: int | None
    events: list[str]
    active: bool


class DeliveryAttemptOut(OutSchema):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


class OutboxOut(OutSchema):
    id: int
    webhook_id: int
    ticket_id: int | None
    event: str
    idempotency_key: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    restored_at: datetime | None = Field(
        description="Set when a restore brought the message back undelivered: it is sent "
        "again with its original Idempotency-Key, which the receiver may have seen."
    )


class DeliveryRoundOut(Schema):
    attempted: int = Field(description="Messages tried in this round.")
    delivered: int = Field(description="Of those, delivered.")
