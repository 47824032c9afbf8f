"""Prometheus metrics. Counters are process-wide; gauges are read from the database per scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.db.models import Incident, OutboxMessage, Ticket

REGISTRY = CollectorRegistry()

INCIDENTS = Counter(
    "shirong_incidents_ingested_total",
    "Incidents posted, by result (new or duplicate).",
    ["result"],
    registry=REGISTRY,
)
RECURRENCES = Counter(
    "shirong_incident_recurrences_total",
    "New records of a known situation, by outcome: linked (to a pending incident), still_present "
    "(its ticket open), suppressed (rejected), recurrence (its ticket closed: a new incident).",
    ["outcome"],
    registry=REGISTRY,
)
REVIEWS = Counter(
    "shirong_reviews_total", "Review decisions, by action.", ["action"], registry=REGISTRY
)
TICKET_ACTIONS = Counter(
    "shirong_ticket_actions_total",
    "Ticket lifecycle actions, by action.",
    ["action"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "shirong_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
UPLOADS = Counter(
    "shirong_uploads_total", "Photo uploads, by result.", ["result"], registry=REGISTRY
)
TICKETS = Gauge("shirong_tickets", "Tickets, by status.", ["status"], registry=REGISTRY)
INCIDENTS_BY_STATUS = Gauge(
    "shirong_incidents", "Incidents, by review status.", ["status"], registry=REGISTRY
)
OUTBOX = Gauge(
    "shirong_outbox_messages", "Outbox messages, by status.", ["status"], registry=REGISTRY
)


def render(session: Session) -> bytes:
    """Refresh the database gauges and render every metric in the text exposition format."""
    for gauge, column in (
        (TICKETS, Ticket.status),
        (INCIDENTS_BY_STATUS, Incident.status),
        (OUTBOX, OutboxMessage.status),
    ):
        gauge.clear()
        for status, count in session.execute(select(column, func.count()).group_by(column)):
            gauge.labels(status=status).set(count)
    return generate_latest(REGISTRY)
