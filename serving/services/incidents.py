"""Incident ingestion (idempotent), the review gate in front of tickets, the incident as shown."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from detection.rules import Incident as IncidentRecord
from detection.taxonomy import Taxonomy
from serving import metrics
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import (
    Incident,
    IncidentStatus,
    Review,
    Sighting,
    SightingOutcome,
    SquadCamera,
    Ticket,
    User,
)
from serving.schemas.incidents import (
    IncidentOut,
    ReviewAction,
    ReviewIn,
    ReviewOut,
    ReviewResult,
    Untrainable,
)
from serving.services import recurrence, tickets
from serving.services.corrections import training_gap
from serving.services.errors import ConflictError, InvalidError, NotFoundError
from serving.services.incident_record import RecordView
from serving.services.recurrence import Earlier, Recurrence


def evidence_of(record: IncidentRecord) -> list[str]:
    """SHA-256s of the evidence files, original frames first (they are what reports link to)."""
    if record.evidence is None:
        return []
    frames = (record.evidence.opened, record.evidence.best)
    files = [f.original for f in frames] + [f.annotated for f in frames] + [f.crop for f in frames]
    return list(dict.fromkeys(f.sha256 for f in files))


def boxes_of(record: IncidentRecord) -> list[dict[str, object]]:
    """One reviewable entry per evidence object, with its own box on the best original frame.

    ``xyxy`` is None for an object not seen in that frame and in records written before the
    engine kept per-object boxes; reviewers relabel the objects or draw their true box.
    """
    best = record.evidence.best if record.evidence else None
    seen = {b.track_key: b for b in best.boxes} if best else {}
    return [
        {
            "track_key": t.key,
            "class_name": t.class_name,
            "role": t.role,
            "confidence": t.best_confidence,
            "xyxy": list(seen[t.key].xyxy) if t.key in seen else None,
            "evidence": best.original.sha256 if best else None,
        }
        for t in record.tracks
    ]


def ingest(
    session: Session, taxonomy: Taxonomy, record: IncidentRecord, policy: Recurrence
) -> tuple[Incident, bool]:
    """Store an incident for review; returns (incident, created).

    The rules engine's deterministic ``id`` is the identity: posting the same record again (a
    retry, a replayed video, an update of an open incident) returns the same row and refreshes
    it. A record with a new id of a situation already known becomes a sighting of the earlier
    incident instead (``serving.services.recurrence``), unless it is a recurrence after a closed
    ticket or beats a rejection; either way the earlier incident is what comes back.
    """
    _check_record(taxonomy, record)
    existing = session.scalar(select(Incident).where(Incident.record_id == record.id))
    if existing is not None:
        return _seen_again(session, existing, record), False
    sighting = session.scalar(select(Sighting).where(Sighting.record_id == record.id))
    if sighting is not None:
        return _sighted_again(session, sighting, record), False
    earlier = recurrence.find_earlier(session, record, policy)
    outcome = recurrence.fold(earlier, record, policy) if earlier is not None else None
    if earlier is not None and outcome is not None:
        return _sighted(session, earlier, outcome, record), False
    incident = Incident(record_id=record.id)
    _fill(incident, record)
    session.add(incident)
    returned = earlier is not None and earlier.rectified
    try:
        if returned:
            assert earlier is not None
            incident.recurrence_of_id = earlier.incident.id
            session.flush()
            earlier.incident.recurrences = [*earlier.incident.recurrences, incident.id]
        session.commit()
    except IntegrityError:  # a concurrent identical request won the race
        session.rollback()
        winner = session.scalar(select(Incident).where(Incident.record_id == record.id))
        if winner is None:
            raise
        return winner, False
    if returned:
        metrics.RECURRENCES.labels(outcome="recurrence").inc()
    return incident, True


def _fill(incident: Incident, record: IncidentRecord) -> None:
    incident.standard = record.standard.id
    incident.clause = record.clause.id
    incident.rule = record.rule
    incident.classes = list(record.classes)
    incident.first_seen = record.first_seen
    incident.last_seen = record.last_seen
    incident.dwell_s = record.dwell_s
    incident.zone = record.zone.id if record.zone else None
    incident.lat = record.location.lat if record.location else None
    incident.lon = record.location.lon if record.location else None
    incident.source_id = record.source.id
    incident.camera_id = record.source.id
    incident.confidence = record.confidence
    incident.boxes = boxes_of(record)
    incident.evidence = evidence_of(record)
    incident.record = record.model_dump(mode="json")


def _seen_again(session: Session, incident: Incident, record: IncidentRecord) -> Incident:
    """A re-post of an incident's own record: a pending incident takes what it adds; a reviewed
    one only its last sighting, from which the recurrence window runs."""
    if incident.status == IncidentStatus.PENDING.value:
        changed = _merge(session, incident, record)
    else:
        changed = record.last_seen > incident.last_seen
        incident.last_seen = max(incident.last_seen, record.last_seen)
    if changed:
        incident.updated_at = utcnow()
        session.commit()
    return incident


def _merge(session: Session, incident: Incident, record: IncidentRecord) -> bool:
    """Fold a later look at a pending incident's situation in; returns whether it changed.

    Its time span grows. Its evidence becomes the record's when that is the record the evidence
    came from (grown since) or a more confident one, unless a reviewer has edited the boxes.
    """
    newer = record.last_seen > incident.last_seen
    stored = RecordView.of(incident)
    own = stored.id == record.id
    closed_now = own and stored.status != record.status  # e.g. open → closed
    if not (newer or closed_now or record.confidence > incident.confidence):
        return False
    span = (
        min(incident.first_seen, record.first_seen),
        max(incident.last_seen, record.last_seen),
        max(incident.dwell_s, record.dwell_s),
    )
    if (own or record.confidence > incident.confidence) and not _edited(session, incident):
        _fill(incident, record)
    incident.first_seen, incident.last_seen, incident.dwell_s = span
    return True


def _edited(session: Session, incident: Incident) -> bool:
    """A pending incident with reviews has reviewer-edited boxes that new evidence would lose."""
    query = select(Review.id).where(Review.incident_id == incident.id).limit(1)
    return session.scalar(query) is not None


def _sighted(
    session: Session, earlier: Earlier, outcome: SightingOutcome, record: IncidentRecord
) -> Incident:
    """Keep a new record of a known situation as a sighting of its earlier incident."""
    incident, ticket = earlier.incident, earlier.ticket
    still = outcome is SightingOutcome.STILL_PRESENT
    session.add(
        Sighting(
            record_id=record.id,
            incident_id=incident.id,
            ticket_id=ticket.id if still and ticket is not None else None,
            outcome=outcome.value,
            first_seen=record.first_seen,
            last_seen=record.last_seen,
            confidence=record.confidence,
            evidence=RecordView.of_record(record).originals,
            files=evidence_of(record),
        )
    )
    if outcome is SightingOutcome.LINKED and incident.status == IncidentStatus.PENDING.value:
        with session.no_autoflush:  # the sighting's unique record id is checked at the commit
            _merge(session, incident, record)
    else:
        incident.last_seen = max(incident.last_seen, record.last_seen)
    incident.updated_at = utcnow()
    incident.sightings = Incident.sightings + 1  # in SQL: concurrent sightings all count
    if outcome is SightingOutcome.SUPPRESSED:
        incident.suppressed = Incident.suppressed + 1
    try:
        session.commit()
    except IntegrityError:  # a concurrent post of the same record won the race
        session.rollback()
        winner = session.scalar(select(Sighting).where(Sighting.record_id == record.id))
        if winner is None:
            raise
        return get_incident(session, winner.incident_id)
    metrics.RECURRENCES.labels(outcome=outcome.value).inc()
    return incident


def _sighted_again(session: Session, sighting: Sighting, record: IncidentRecord) -> Incident:
    """A re-post of a sighting's record: it and its incident take what it adds."""
    incident = get_incident(session, sighting.incident_id)
    newer, better = record.last_seen > sighting.last_seen, record.confidence > sighting.confidence
    if not (newer or better):
        return incident
    sighting.first_seen = min(sighting.first_seen, record.first_seen)
    sighting.last_seen = max(sighting.last_seen, record.last_seen)
    if better:
        sighting.confidence = record.confidence
        sighting.evidence = RecordView.of_record(record).originals
        sighting.files = list(dict.fromkeys([*sighting.files, *evidence_of(record)]))
    pending = incident.status == IncidentStatus.PENDING.value
    if sighting.outcome == SightingOutcome.LINKED.value and pending:
        _merge(session, incident, record)
    else:
        incident.last_seen = max(incident.last_seen, record.last_seen)
    incident.updated_at = utcnow()
    session.commit()
    return incident


# Column widths the record's free-form strings must fit (the record model leaves them open).
_LIMITS = {"id": 64, "rule": 100, "source.id": 100, "zone.id": 100}
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _check_record(taxonomy: Taxonomy, record: IncidentRecord) -> None:
    """What the record's own schema leaves open but a stored incident needs."""
    values = {
        "id": record.id,
        "rule": record.rule,
        "source.id": record.source.id,
        "zone.id": record.zone.id if record.zone else "",
    }
    for field, value in values.items():
        if len(value) > _LIMITS[field] or "\x00" in value:
            raise InvalidError(f"{field} must be at most {_LIMITS[field]} characters, no NUL")
    if not record.id or not record.source.id:
        raise InvalidError("id and source.id must not be empty")
    if not math.isfinite(record.dwell_s):
        raise InvalidError("dwell_s must be a finite number")
    try:
        clause = taxonomy.clause(record.clause.id)
    except KeyError as exc:
        raise InvalidError(f"clause '{record.clause.id}' is not in the taxonomy") from exc
    if clause.standard_id != record.standard.id:
        raise InvalidError(f"clause '{clause.id}' is not a clause of standard {record.standard.id}")
    if record.first_seen.tzinfo is None or record.last_seen.tzinfo is None:
        raise InvalidError("first_seen and last_seen need a UTC offset")
    if not _EARLIEST <= record.first_seen <= record.last_seen < _LATEST:
        raise InvalidError("first_seen and last_seen must be in 2000-2099, first before last")
    named = {*record.classes, *(t.class_name for t in record.tracks)}
    unknown = sorted(named - set(taxonomy.class_names))
    if unknown:
        raise InvalidError(f"unknown taxonomy classes: {', '.join(unknown)}")


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"incident {incident_id} not found")
    return incident


@dataclass(frozen=True)
class IncidentFilter:
    """Review-queue filters; None means 'any'."""

    standard: int | None = None
    camera_id: str | None = None
    squad_id: int | None = None
    min_confidence: float | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_incidents(
    session: Session,
    status: IncidentStatus | None,
    limit: int,
    offset: int,
    where: IncidentFilter | None = None,
) -> list[Incident]:
    query = select(Incident).order_by(Incident.id)
    if status is not None:
        query = query.where(Incident.status == status.value)
    if where is not None:
        query = _filtered(query, where)
    return list(session.scalars(query.limit(limit).offset(offset)))


def _filtered(query: Select[Incident], where: IncidentFilter) -> Select[Incident]:
    if where.standard is not None:
        query = query.where(Incident.standard == where.standard)
    if where.camera_id is not None:
        query = query.where(Incident.camera_id == where.camera_id)
    if where.min_confidence is not None:
        query = query.where(Incident.confidence >= where.min_confidence)
    if where.since is not None:
        query = query.where(Incident.last_seen >= where.since)
    if where.until is not None:
        query = query.where(Incident.first_seen < where.until)
    if where.squad_id is not None:
        cameras = select(SquadCamera.camera_id).where(SquadCamera.squad_id == where.squad_id)
        query = query.where(Incident.camera_id.in_(cameras))
    return query


def ticket_id_for(session: Session, incident_id: int) -> int | None:
    return session.scalar(select(Ticket.id).where(Ticket.incident_id == incident_id))


def ticket_ids_for(session: Session, incident_ids: Sequence[int]) -> dict[int, int]:
    """Incident id → its ticket id, in one query (a page of the queue, not one query a row)."""
    if not incident_ids:
        return {}
    query = select(Ticket.incident_id, Ticket.id).where(Ticket.incident_id.in_(incident_ids))
    rows = session.execute(query)
    return {incident_id: ticket_id for incident_id, ticket_id in rows if incident_id is not None}


def incident_out(session: Session, incident: Incident) -> IncidentOut:
    """An incident as every route shows it (names, best image, trainability, ticket)."""
    return _shown(incident, ticket_id_for(session, incident.id))


def incidents_out(session: Session, rows: Sequence[Incident]) -> list[IncidentOut]:
    """Incidents as shown, their tickets found in one query (a page of the queue)."""
    ticket_ids = ticket_ids_for(session, [i.id for i in rows])
    return [_shown(i, ticket_ids.get(i.id)) for i in rows]


def _shown(incident: Incident, ticket_id: int | None) -> IncidentOut:
    stored = RecordView.of(incident)
    out = IncidentOut.model_validate(incident)
    out.ticket_id = ticket_id
    out.standard_name = stored.standard_name
    out.clause_name = stored.clause_name
    out.source_name = stored.source_name
    out.image = stored.best_image
    out.image_region = stored.best_region
    gap = training_gap(incident.boxes, out.image is not None)
    out.trainable = gap is None
    if gap is not None:
        out.untrainable = Untrainable(code=gap.code, detail=gap.detail, boxes=list(gap.boxes))
    return out


@dataclass(frozen=True)
class Decision:
    """A stored review decision and the incident it was made on, as it is now."""

    review: Review
    incident: Incident


def review(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    reviewer: User,
    incident_id: int,
    data: ReviewIn,
) -> Decision:
    """Record a decision and commit it. Relabel and box corrections edit the incident and keep
    it pending; reject closes the review; confirm closes it and opens the incident's ticket in
    the same transaction, so there is no confirmed incident without its ticket."""
    incident = get_incident(session, incident_id)
    if incident.status != IncidentStatus.PENDING.value:
        raise ConflictError(f"incident {incident_id} was already reviewed ({incident.status})")
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None
    if data.action in (ReviewAction.RELABEL, ReviewAction.CORRECT_BOX):
        before, after = _edit_box(taxonomy, incident, data)
    elif data.action is ReviewAction.ADD_BOX:
        after = _add_box(taxonomy, incident, data)
    elif data.action is ReviewAction.CONFIRM:
        incident.status = IncidentStatus.CONFIRMED.value
    else:
        incident.status = IncidentStatus.REJECTED.value
    decision = Review(
        incident_id=incident.id,
        reviewer_id=reviewer.id,
        action=data.action.value,
        reason=data.reason.value if data.reason else None,
        box_index=data.box_index,
        before=before,
        after=after,
        note=data.note,
    )
    session.add(decision)
    if data.action is ReviewAction.CONFIRM:
        tickets.from_incident(session, settings, taxonomy, reviewer, incident)
    session.commit()
    return Decision(decision, incident)


def review_result(session: Session, decision: Decision) -> ReviewResult:
    """What the review route answers: the decision, the incident and the ticket it has now."""
    shown = incident_out(session, decision.incident)
    return ReviewResult(
        review=ReviewOut.model_validate(decision.review), incident=shown, ticket_id=shown.ticket_id
    )


def _edit_box(
    taxonomy: Taxonomy, incident: Incident, data: ReviewIn
) -> tuple[dict[str, object], dict[str, object]]:
    assert data.box_index is not None
    if data.box_index >= len(incident.boxes):
        raise InvalidError(
            f"box_index {data.box_index} is out of range: the incident has "
            f"{len(incident.boxes)} boxes"
        )
    old = dict(incident.boxes[data.box_index])
    new = dict(old)
    if data.action is ReviewAction.RELABEL:
        assert data.class_name is not None
        if data.class_name not in taxonomy.class_names:
            raise InvalidError(f"'{data.class_name}' is not a taxonomy class")
        new["class_name"] = data.class_name
    else:
        assert data.xyxy is not None
        new["xyxy"] = list(data.xyxy)
    boxes = list(incident.boxes)
    boxes[data.box_index] = new
    incident.boxes = boxes
    kept = set(incident.classes) - {str(old["class_name"])}
    incident.classes = sorted(kept | {str(b["class_name"]) for b in boxes})
    return old, new


def _add_box(taxonomy: Taxonomy, incident: Incident, data: ReviewIn) -> dict[str, object]:
    """A box the model missed, drawn by the reviewer on the best evidence frame."""
    assert data.class_name is not None and data.xyxy is not None
    if data.class_name not in taxonomy.class_names:
        raise InvalidError(f"'{data.class_name}' is not a taxonomy class")
    new: dict[str, object] = {
        "track_key": None,
        "class_name": data.class_name,
        "role": taxonomy.cls(data.class_name).role.value,
        "confidence": None,
        "xyxy": list(data.xyxy),
        "evidence": RecordView.of(incident).best_image,
        "added": True,
    }
    incident.boxes = [*incident.boxes, new]
    incident.classes = sorted({*incident.classes, data.class_name})
    return new


def list_reviews(session: Session, limit: int, offset: int) -> list[Review]:
    query = select(Review).order_by(Review.id).limit(limit).offset(offset)
    return list(session.scalars(query))
