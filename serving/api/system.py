"""Health (unauthenticated, for load balancers) and metrics (for Prometheus, behind a token)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from serving import metrics
from serving.api.deps import ServicesDep, SessionDep, TokenDep, get_current_user, require
from serving.api.proxies import UntrustedForwarders, untrusted_forwarders
from serving.db.models import UserRole
from serving.schemas.common import Health

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
def health(
    session: SessionDep, forwarders: Annotated[UntrustedForwarders, Depends(untrusted_forwarders)]
) -> Health:
    """Answers once migrations ran and the database responds; ``warnings`` name set-up problems
    seen since start-up (still 200: the service works, only worse than it should)."""
    session.execute(text("SELECT 1"))
    return Health(status="ok", warnings=forwarders.warnings)


def metrics_reader(services: ServicesDep, session: SessionDep, credentials: TokenDep) -> None:
    """Let through ``metrics_token`` (a scraper's ``authorization`` setting) or an admin's token.

    The figures (ticket and incident counts, upload and webhook outcomes) are not public: 401
    without a valid token, 403 for a user who is not an admin.
    """
    expected = services.settings.metrics_token.get_secret_value().encode()
    sent = credentials.credentials.encode() if credentials else b""
    if expected and hmac.compare_digest(sent, expected):
        return
    require(UserRole.ADMIN)(get_current_user(services, session, credentials))


@router.get("/metrics", response_class=Response)
def prometheus(session: SessionDep, _: Annotated[None, Depends(metrics_reader)]) -> Response:
    """Prometheus text format; send ``Authorization: Bearer <SHIRONG_METRICS_TOKEN>``."""
    return Response(metrics.render(session), media_type=CONTENT_TYPE_LATEST)
