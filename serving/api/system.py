"""Health and metrics (unauthenticated, for load balancers and Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from serving import metrics
from serving.api.deps import SessionDep
from serving.schemas.common import Health

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
def health(session: SessionDep) -> Health:
    """Answers once migrations ran and the database responds."""
    session.execute(text("SELECT 1"))
    return Health(status="ok")


@router.get("/metrics", response_class=Response)
def prometheus(session: SessionDep) -> Response:
    return Response(metrics.render(session), media_type=CONTENT_TYPE_LATEST)
