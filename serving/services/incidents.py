"""Incident ingestion (idempotent) and the review gate in front of tickets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from detection.rules.incident import Incident as IncidentRecord
from detection.taxonomy import Taxonomy
from serving.db.base import utcnow
from serving.db.models import Incident, IncidentStatus, Review, SquadCamera, Ticket, User
from serving.schemas.incidents import ReviewAction, ReviewIn
from serving.services.errors import ConflictError, InvalidError, NotFoundError


def evidence_of(record: IncidentRecord) -> list[str]:
    """SHA-256s of the evidence files, original frames first (they are what reports link to)."""
    if record.evidence is None:
        return []
    frames = (record.evidence.opened, record.evidence.best)
    files = [f.original for f in frames] + [f.annotated for f in frames] + [f.crop for f in frames]
    return list(dict.fromkeys(f.sha256 for f in files))


def originals_of(incident: Incident) -> list[str]:
    """The original full-resolution frames: what tickets and reports link to (原图)."""
    evidence = incident.record.get("evidence") or {}
    frames = [evidence.get("opened"), evidence.get("best")]
    return list(dict.fromkeys(f["original"]["sha256"] for f in frames if f))


def boxes_of(record: IncidentRecord) -> list[dict[str, object]]:
    """One reviewable entry per evidence object; reviewers relabel them or draw their true box."""
    image = record.evidence.best.original.sha256 if record.evidence else None
    return [
        {
            "track_key": t.key,
            "class_name": t.class_name,
            "role": t.role,
            "confidence": t.best_confidence,
            "xyxy": None,
            "evidence": image,
        }
        for t in record.tracks
    ]


def ingest(session: Session, taxonomy: Taxonomy, record: IncidentRecord) -> tuple[Incident, bool]:
    """Store an incident for review; returns (incident, created).

    The rules engine's deterministic ``id`` is the identity: posting the same record again (a
    retry, a replayed video) returns the same row, and a later update of a still-pending incident
    (it stayed longer, a better frame was found) refreshes it.
    """
    _check_record(taxonomy, record)
    existing = session.scalar(select(Incident).where(Incident.record_id == record.id))
    if existing is not None:
        if (
            existing.status == IncidentStatus.PENDING.value
            and record.last_seen > existing.last_seen
        ):
            _fill(existing, record)
            existing.updated_at = utcnow()
            session.commit()
        return existing, False
    incident = Incident(record_id=record.id)
    _fill(incident, record)
    session.add(incident)
    try:
        session.commit()
    except IntegrityError:  # a concurrent identical request won the race
        session.rollback()
        winner = session.scalar(select(Incident).where(Incident.record_id == record.id))
        if winner is None:
            raise
        return winner, False
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


def review(
    session: Session, taxonomy: Taxonomy, reviewer: User, incident_id: int, data: ReviewIn
) -> Review:
    """Record a decision. Relabel and box corrections edit the incident and keep it pending;
    confirm and reject close the review. The caller turns a confirmation into a ticket."""
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
    return decision


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
        "evidence": best_image(incident),
        "added": True,
    }
    incident.boxes = [*incident.boxes, new]
    incident.classes = sorted({*incident.classes, data.class_name})
    return new


def best_image(incident: Incident) -> str | None:
    """SHA-256 of the best original evidence frame: the image reviewers label."""
    best = (incident.record.get("evidence") or {}).get("best")
    return str(best["original"]["sha256"]) if best else None


def best_region(incident: Incident) -> list[float] | None:
    """The evidence region (xyxy pixels) on the best frame."""
    best = (incident.record.get("evidence") or {}).get("best")
    return [float(v) for v in best["region_xyxy"]] if best else None


def list_reviews(session: Session, limit: int, offset: int) -> list[Review]:
    query = select(Review).order_by(Review.id).limit(limit).offset(offset)
    return list(session.scalars(query))
