"""Transactional outbox and webhook delivery.

Messages are written in the same transaction as the ticket change they announce, so a change is
never announced without being stored nor stored without being announced. The delivery worker posts
them with an ``Idempotency-Key`` header, retries with exponential backoff, and logs every attempt;
a receiver that is down only delays delivery.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from detection.taxonomy import Taxonomy
from serving import metrics
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import (
    DeliveryAttempt,
    OutboxMessage,
    OutboxStatus,
    Squad,
    Ticket,
    TicketEvent,
    Webhook,
    WebhookFormat,
)
from serving.services.ticket_view import evidence_url, local_time, ticket_out

log = logging.getLogger(__name__)

WECOM_MAX_BYTES = 4096  # WeCom group robots reject longer markdown content
MAX_BACKOFF_S = 3600.0
PRIORITY_ZH = {"urgent": "紧急", "high": "优先", "normal": "一般"}
STATUS_ZH = {
    "new": "新建",
    "dispatched": "已派发",
    "accepted": "已接收",
    "rectified": "已整改",
    "closed": "已办结",
    "rejected": "已退回",
    "cancelled": "已撤销",
}


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
    links = [evidence_url(settings.public_base_url, sha) for sha in ticket.evidence]
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
    """The WeCom group-robot markdown message, with links to the original images (一表通办)."""
    status = STATUS_ZH.get(str(ticket["status"]), str(ticket["status"]))
    where = ticket["road"] or ""
    if ticket["lat"] is not None:
        where = f"{where} ({ticket['lat']:.5f}, {ticket['lon']:.5f})".strip()
    lines = [
        f"**【{PRIORITY_ZH[str(ticket['priority'])]}】工单 #{ticket['id']} {status}**",
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


def deliver_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    client: httpx.Client,
    now: datetime | None = None,
    limit: int = 100,
) -> DeliveryRound:
    """Try every message that is due once; returns how many were tried and delivered."""
    now = now or utcnow()
    with sessions() as session:
        due = session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    delivered = sum(_deliver_one(sessions, settings, client, message_id, now) for message_id in due)
    return DeliveryRound(attempted=len(due), delivered=delivered)


def _deliver_one(
    sessions: sessionmaker[Session],
    settings: Settings,
    client: httpx.Client,
    message_id: int,
    now: datetime,
) -> bool:
    with sessions() as session:
        message = session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .with_for_update(skip_locked=True)
        )
        if message is None or message.status != OutboxStatus.PENDING.value:
            return False
        hook = session.get(Webhook, message.webhook_id)
        assert hook is not None  # cascade deletes messages with their webhook
        started = time.perf_counter()
        status_code, error = _post(client, hook, message, settings.dispatch_timeout_s)
        session.add(
            DeliveryAttempt(
                outbox_id=message.id,
                at=now,
                status_code=status_code,
                error=error,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        )
        message.attempts += 1
        if error is None:
            message.status, message.delivered_at, message.last_error = (
                OutboxStatus.DELIVERED.value,
                now,
                None,
            )
        else:
            message.last_error = error
            if message.attempts >= settings.dispatch_max_attempts:
                message.status = OutboxStatus.FAILED.value
            else:
                message.next_attempt_at = now + backoff(settings, message.attempts)
        session.commit()
    metrics.WEBHOOK_DELIVERIES.labels(outcome="delivered" if error is None else "failed").inc()
    return error is None


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Delay after the ``attempts``-th failure: base, 2x base, 4x base ... capped at an hour."""
    return timedelta(seconds=min(settings.dispatch_backoff_s * 2 ** (attempts - 1), MAX_BACKOFF_S))


def _post(
    client: httpx.Client, hook: Webhook, message: OutboxMessage, timeout: float
) -> tuple[int | None, str | None]:
    """(HTTP status, error or None). WeCom answers 200 with a non-zero errcode on failure."""
    headers = {"Idempotency-Key": message.idempotency_key, "X-Shirong-Event": message.event}
    try:
        response = client.post(hook.url, json=message.payload, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if not response.is_success:
        return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"
    if hook.format == WebhookFormat.WECOM.value:
        try:
            errcode = response.json().get("errcode", 0)
        except ValueError:
            errcode = 0
        if errcode:
            return response.status_code, f"WeCom errcode {errcode}: {response.text[:200]}"
    return response.status_code, None


class DeliveryWorker:
    """Runs ``deliver_due`` every ``poll_s`` seconds in a daemon thread until stopped."""

    def __init__(self, deliver: Callable[[], DeliveryRound], poll_s: float) -> None:
        self._deliver = deliver
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shirong-dispatch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._deliver()
            except Exception:  # keep delivering after a database hiccup; the error is logged
                log.exception("webhook delivery round failed")
            self._stop.wait(self._poll_s)
