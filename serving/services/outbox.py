"""Transactional outbox and webhook delivery.

Messages are written in the same transaction as the ticket change they announce, so a change is
never announced without being stored nor stored without being announced. The delivery worker posts
them with an ``Idempotency-Key`` header, retries with exponential backoff, and logs every attempt;
a receiver that is down only delays delivery. A round first claims a message (status ``sending``
until a lease runs out), so concurrent rounds post it once; a crash mid-send is retried after the
lease with the same key.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import httpx
from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from detection.backoff import backoff_s
from detection.taxonomy import Taxonomy
from serving import metrics
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import (
    DeliveryAttempt,
    Json,
    OutboxMessage,
    OutboxStatus,
    Squad,
    Ticket,
    TicketEvent,
    Webhook,
    WebhookFormat,
)
from serving.labels import word
from serving.services.links import EvidenceLinks
from serving.services.ticket_view import local_time, ticket_out

log = logging.getLogger(__name__)

WECOM_MAX_BYTES = 4096  # WeCom group robots reject longer markdown content
MAX_BACKOFF_S = 3600.0
# Statuses a round may claim once next_attempt_at has passed (for "sending": the lease ran out).
CLAIMABLE = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
INTERRUPTED = "interrupted: no outcome was recorded before the delivery lease expired"


def enqueue(
    session: Session, settings: Settings, taxonomy: Taxonomy, ticket: Ticket, event: TicketEvent
) -> list[OutboxMessage]:
    """One message per subscribed webhook; the caller's commit stores them with the change."""
    name = f"ticket.{event.action}"
    squads = {ticket.squad_id, ticket.helping_squad_id} - {None}
    messages = []
    for hook in session.scalars(select(Webhook).where(Webhook.active.is_(True))):
        if name not in hook.events or (hook.squad_id is not None and hook.squad_id not in squads):
            continue
        payload = build_payload(session, settings, taxonomy, hook, ticket, event)
        key = hashlib.sha256(f"{hook.id}:{event.id}".encode()).hexdigest()
        message = OutboxMessage(
            webhook_id=hook.id,
            ticket_id=ticket.id,
            event=name,
            idempotency_key=key,
            payload=payload,
        )
        session.add(message)
        messages.append(message)
    return messages


def build_payload(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    hook: Webhook,
    ticket: Ticket,
    event: TicketEvent,
) -> dict[str, object]:
    view = ticket_out(ticket, taxonomy, event.at)
    signed = EvidenceLinks.of(settings, event.at)  # open without a login, for ttl from now
    links = [signed.url(sha) for sha in ticket.evidence]
    if hook.format == WebhookFormat.WECOM.value:
        squad = session.get(Squad, ticket.squad_id) if ticket.squad_id else None
        return wecom_markdown(view.model_dump(mode="json"), event, squad, links)
    return {
        "event": f"ticket.{event.action}",
        "event_id": event.id,
        "occurred_at": event.at.isoformat(),
        "note": event.note,
        "ticket": view.model_dump(mode="json"),
        "evidence_urls": links,
    }


def wecom_markdown(
    ticket: dict[str, object],
    event: TicketEvent,
    squad: Squad | None,
    links: list[str],
) -> dict[str, object]:
    """The WeCom group-robot markdown message, with links to the original images (一表通办);
    status and priority in the UI's words (``serving.labels``)."""
    status = word("ticket_status", str(ticket["status"]))
    priority = word("priority", str(ticket["priority"]))
    where = ticket["road"] or ""
    if ticket["lat"] is not None:
        where = f"{where} ({ticket['lat']:.5f}, {ticket['lon']:.5f})".strip()
    lines = [
        f"**【{priority}】工单 #{ticket['id']} {status}**",
        f"> 标准：{ticket['standard_name']} {ticket['clause']} {ticket['clause_name']}",
        f"> 中队：{squad.name if squad else '未分配'}",
        f"> 位置：{where or '未知'}",
        f"> 描述：{ticket['description']}",
    ]
    if ticket["due_at"]:
        lines.append(f"> 期限：{local_time(datetime.fromisoformat(str(ticket['due_at'])))}")
    if event.note:
        lines.append(f"> 备注：{event.note}")
    lines += [f"[原图{i}]({url})" for i, url in enumerate(links, 1)]
    content = "\n".join(lines)
    while len(content.encode()) > WECOM_MAX_BYTES:
        content = content[: len(content) - 64]
    return {"msgtype": "markdown", "markdown": {"content": content}}


@dataclass(frozen=True)
class DeliveryRound:
    attempted: int
    delivered: int


@dataclass(frozen=True)
class _Claim:
    """A message this round owns until ``next_attempt_at``; ``attempts`` fences its outcome."""

    id: int
    attempts: int
    event: str
    idempotency_key: str
    payload: Json
    url: str
    format: str


def deliver_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    client: httpx.Client,
    now: datetime | None = None,
    limit: int = 100,
) -> DeliveryRound:
    """Try every message that is due once; returns how many this round claimed and delivered.

    Rounds may run at once (the worker, ``POST /outbox/deliver``, other processes): each message
    is claimed by one atomic UPDATE, and only the round whose UPDATE changed the row posts it.
    ``now`` is when the round starts (tests pass a later time); its clock runs on from there.
    """
    shift = (now - utcnow()) if now is not None else timedelta(0)

    def clock() -> datetime:
        return utcnow() + shift

    with sessions() as session:
        _fail_exhausted_leases(session, settings, clock())
        due = session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status.in_(CLAIMABLE),
                OutboxMessage.next_attempt_at <= clock(),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    attempted = delivered = 0
    for message_id in due:
        claim = _claim(sessions, settings, message_id, clock())
        if claim is not None:
            attempted += 1
            delivered += _deliver(sessions, settings, client, claim, clock)
    return DeliveryRound(attempted=attempted, delivered=delivered)


def _fail_exhausted_leases(session: Session, settings: Settings, at: datetime) -> None:
    """A send that never finished on its last permitted attempt counts as failed, not retried."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.SENDING.value,
            OutboxMessage.next_attempt_at <= at,
            OutboxMessage.attempts >= settings.dispatch_max_attempts,
        )
        .values(status=OutboxStatus.FAILED.value, last_error=INTERRUPTED)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _claim(
    sessions: sessionmaker[Session], settings: Settings, message_id: int, at: datetime
) -> _Claim | None:
    """Take the message for one attempt, or None where another round has it or it is not due.

    The UPDATE is the lock on both backends: PostgreSQL re-checks the WHERE after a concurrent
    claim commits, SQLite runs one writer at a time. A claim whose lease ran out (the sender
    crashed mid-send) is due again, with the same Idempotency-Key.
    """
    with sessions() as session:
        row = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.next_attempt_at <= at,
                or_(
                    OutboxMessage.status == OutboxStatus.PENDING.value,
                    and_(
                        OutboxMessage.status == OutboxStatus.SENDING.value,
                        OutboxMessage.attempts < settings.dispatch_max_attempts,
                    ),
                ),
            )
            .values(
                status=OutboxStatus.SENDING.value,
                attempts=OutboxMessage.attempts + 1,
                next_attempt_at=at + timedelta(seconds=settings.dispatch_lease_s),
            )
            .returning(
                OutboxMessage.attempts,
                OutboxMessage.webhook_id,
                OutboxMessage.event,
                OutboxMessage.idempotency_key,
                OutboxMessage.payload,
            )
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if row is None:
            return None
        hook = session.get(Webhook, row.webhook_id)
        assert hook is not None  # cascade deletes messages with their webhook
        session.commit()
    return _Claim(
        message_id, row.attempts, row.event, row.idempotency_key, row.payload, hook.url, hook.format
    )


def _deliver(
    sessions: sessionmaker[Session],
    settings: Settings,
    client: httpx.Client,
    claim: _Claim,
    clock: Callable[[], datetime],
) -> bool:
    """Post a claimed message (outside any transaction) and record the outcome."""
    started_at, started = clock(), time.perf_counter()
    status_code, error = _post(client, claim, settings.dispatch_timeout_s)
    duration_ms = (time.perf_counter() - started) * 1000
    outcome = _outcome(settings, claim.attempts, error, clock())
    with sessions() as session:
        session.add(
            DeliveryAttempt(
                outbox_id=claim.id,
                at=started_at,
                status_code=status_code,
                error=error,
                duration_ms=duration_ms,
            )
        )
        recorded = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == claim.id,
                OutboxMessage.status == OutboxStatus.SENDING.value,
                OutboxMessage.attempts == claim.attempts,
            )
            .values(**outcome)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        session.commit()
    if recorded is None:
        log.warning(
            "outbox message %d: attempt %d outlived its lease and was taken over; its outcome "
            "is in the delivery log but does not change the message",
            claim.id,
            claim.attempts,
        )
    metrics.WEBHOOK_DELIVERIES.labels(outcome="delivered" if error is None else "failed").inc()
    return error is None


def _outcome(
    settings: Settings, attempts: int, error: str | None, at: datetime
) -> dict[str, object]:
    """The columns an attempt sets: delivered, failed for good, or pending until the backoff."""
    if error is None:
        return {"status": OutboxStatus.DELIVERED.value, "delivered_at": at, "last_error": None}
    if attempts >= settings.dispatch_max_attempts:
        return {"status": OutboxStatus.FAILED.value, "last_error": error}
    retry_at = at + backoff(settings, attempts)
    return {"status": OutboxStatus.PENDING.value, "next_attempt_at": retry_at, "last_error": error}


def mark_restored(session: Session, at: datetime) -> int:
    """Mark the messages a restore brought back undelivered (pending, or claimed mid-send when
    the backup was taken); returns how many. They are sent again with their original
    Idempotency-Key, since a receiver may have had them already: it drops a key it has seen."""
    marked = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status.in_(CLAIMABLE))
        .values(restored_at=at)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[object], marked).rowcount


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Delay after the ``attempts``-th failure: base, 2x base, 4x base ... capped at an hour."""
    return timedelta(seconds=backoff_s(settings.dispatch_backoff_s, attempts - 1, MAX_BACKOFF_S))


def _post(client: httpx.Client, claim: _Claim, timeout: float) -> tuple[int | None, str | None]:
    """(HTTP status, error or None). WeCom answers 200 with a non-zero errcode on failure."""
    headers = {"Idempotency-Key": claim.idempotency_key, "X-Shirong-Event": claim.event}
    try:
        response = client.post(claim.url, json=claim.payload, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if not response.is_success:
        return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"
    if claim.format == WebhookFormat.WECOM.value:
        try:
            errcode = response.json().get("errcode", 0)
        except ValueError:
            errcode = 0
        if errcode:
            return response.status_code, f"WeCom errcode {errcode}: {response.text[:200]}"
    return response.status_code, None
