"""Incident ingestion and review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import AfterValidator, AwareDatetime, TypeAdapter

from detection.rules import Incident as IncidentRecord
from detection.taxonomy import default_taxonomy
from serving import metrics
from serving.api.conditional import NOT_MODIFIED, IfNoneMatch, conditional
from serving.api.deps import (
    IdPath,
    IncidentReader,
    IngestUser,
    ReviewerUser,
    ServicesDep,
    SessionDep,
)
from serving.db.models import IncidentStatus
from serving.schemas.common import MAX_ID
from serving.schemas.incidents import IncidentOut, ReviewIn, ReviewOut, ReviewResult
from serving.services import incidents, recurrence
from serving.services.recurrence import Recurrence

router = APIRouter(tags=["incidents"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
_QUEUE = TypeAdapter(list[IncidentOut])


def _known_standard(standard: int | None) -> int | None:
    """Which standards exist is the taxonomy's to say, not a bound in the code."""
    if standard is not None:
        try:
            default_taxonomy().standard(standard)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
    return standard


@router.post(
    "/incidents",
    response_model=IncidentOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Already ingested; the existing record."}},
)
def ingest_incident(
    data: IncidentRecord,
    response: Response,
    _: IngestUser,
    services: ServicesDep,
    session: SessionDep,
) -> IncidentOut:
    """Queue a rules-engine incident (``Incident.to_json()``) for review; idempotent by its id."""
    incident, created = incidents.ingest(
        session, services.taxonomy, data, Recurrence.of(services.settings)
    )
    metrics.INCIDENTS.labels(result="new" if created else "duplicate").inc()
    if not created:
        response.status_code = status.HTTP_200_OK
    return incidents.incident_out(session, incident)


@router.get(
    "/incidents",
    response_model=list[IncidentOut],
    responses=NOT_MODIFIED,
)
def list_incidents(
    _: IncidentReader,
    session: SessionDep,
    status: IncidentStatus | None = None,
    standard: Annotated[
        int | None, Query(ge=1, description="Standard 1-6."), AfterValidator(_known_standard)
    ] = None,
    camera_id: Annotated[str | None, Query(max_length=100, description="Camera id.")] = None,
    squad_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Cameras of this squad.")
    ] = None,
    min_confidence: Annotated[
        float | None, Query(ge=0, le=1, description="Lowest confidence.")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="Seen at or after.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Began before.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The review queue, oldest first, narrowed by the reviewer's filters.

    The answer carries an ETag; a client polling with ``If-None-Match`` gets 304 (no body) while
    the page is unchanged.
    """
    where = incidents.IncidentFilter(standard, camera_id, squad_id, min_confidence, since, until)
    rows = incidents.list_incidents(session, status, limit, offset, where)
    body = _QUEUE.dump_json(incidents.incidents_out(session, rows), by_alias=True)
    return conditional(body, if_none_match)


@router.get("/incidents/{incident_id}", response_model=IncidentOut)
def get_incident(incident_id: IdPath, _: IncidentReader, session: SessionDep) -> IncidentOut:
    return incidents.incident_out(session, incidents.get_incident(session, incident_id))


@router.delete(
    "/incidents/{incident_id}/suppression",
    response_model=IncidentOut,
    responses={409: {"description": "Not rejected, or its suppression was already lifted."}},
)
def lift_suppression(
    incident_id: IdPath, reviewer: ReviewerUser, session: SessionDep
) -> IncidentOut:
    """Let new sightings of a rejected incident be queued for review again (see recurrence)."""
    incident = recurrence.lift_suppression(session, reviewer, incident_id)
    return incidents.incident_out(session, incident)


@router.post("/incidents/{incident_id}/reviews", response_model=ReviewResult)
def review_incident(
    incident_id: IdPath,
    data: ReviewIn,
    reviewer: ReviewerUser,
    services: ServicesDep,
    session: SessionDep,
) -> ReviewResult:
    """Confirm (→ ticket), reject with a reason, relabel a box or correct it; all are kept."""
    decision = incidents.review(
        session, services.settings, services.taxonomy, reviewer, incident_id, data
    )
    metrics.REVIEWS.labels(action=data.action.value).inc()
    return incidents.review_result(session, decision)


@router.get("/reviews", response_model=list[ReviewOut])
def list_reviews(
    _: ReviewerUser, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> list[ReviewOut]:
    """Every decision and suppression lift, oldest first: the raw material for retraining."""
    return [ReviewOut.model_validate(r) for r in incidents.list_reviews(session, limit, offset)]
