"""Webhook endpoints, the outbox and its delivery log (admin)."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Query, status
from sqlalchemy import select

from serving.api.deps import AdminUser, IdPath, ServicesDep, SessionDep
from serving.db.models import DeliveryAttempt, OutboxMessage, OutboxStatus, Squad, Webhook
from serving.schemas.dispatch import (
    DeliveryAttemptOut,
    DeliveryRoundOut,
    OutboxOut,
    WebhookIn,
    WebhookOut,
)
from serving.services import outbox
from serving.services.errors import InvalidError, NotFoundError

router = APIRouter(tags=["dispatch"])


@router.post("/webhooks", response_model=WebhookOut, status_code=status.HTTP_201_CREATED)
def create_webhook(data: WebhookIn, _: AdminUser, session: SessionDep) -> WebhookOut:
    if data.squad_id is not None and session.get(Squad, data.squad_id) is None:
        raise InvalidError(f"squad {data.squad_id} does not exist")
    hook = Webhook(
        name=data.name,
        url=str(data.url),
        format=data.format.value,
        squad_id=data.squad_id,
        events=list(dict.fromkeys(data.events)),
    )
    session.add(hook)
    session.commit()
    return WebhookOut.model_validate(hook)


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(_: AdminUser, session: SessionDep) -> list[WebhookOut]:
    return [
        WebhookOut.model_validate(h) for h in session.scalars(select(Webhook).order_by(Webhook.id))
    ]


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def deactivate_webhook(webhook_id: IdPath, _: AdminUser, session: SessionDep) -> None:
    """Stop sending to a webhook; its delivery log is kept."""
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFoundError(f"webhook {webhook_id} not found")
    hook.active = False
    session.commit()


@router.get("/outbox", response_model=list[OutboxOut])
def list_outbox(
    _: AdminUser,
    session: SessionDep,
    status: OutboxStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OutboxOut]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status.value)
    return [OutboxOut.model_validate(m) for m in session.scalars(query)]


@router.get("/outbox/{message_id}/attempts", response_model=list[DeliveryAttemptOut])
def delivery_log(message_id: IdPath, _: AdminUser, session: SessionDep) -> list[DeliveryAttemptOut]:
    if session.get(OutboxMessage, message_id) is None:
        raise NotFoundError(f"outbox message {message_id} not found")
    query = select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == message_id)
    return [
        DeliveryAttemptOut.model_validate(a)
        for a in session.scalars(query.order_by(DeliveryAttempt.id))
    ]


@router.post("/outbox/deliver", response_model=DeliveryRoundOut)
def deliver_now(_: AdminUser, services: ServicesDep) -> DeliveryRoundOut:
    """Run one delivery round now instead of waiting for the worker."""
    with httpx.Client() as client:
        done = outbox.deliver_due(services.sessions, services.settings, client)
    return DeliveryRoundOut(attempted=done.attempted, delivered=done.delivered)
