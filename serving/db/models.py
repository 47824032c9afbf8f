"""Tables. Enumerations are stored as short strings so both backends share one migration."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column, relationship

from serving.db.base import Base, UTCDateTime, utcnow

Json = dict[str, Any]


class UserRole(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    REVIEWER = "reviewer"
    SQUAD_OFFICER = "squad_officer"
    INGEST = "ingest"


class SquadKind(StrEnum):
    AREA = "area"  # 派驻中队
    SPECIALISED = "specialised"  # 直属中队


class IncidentStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class TicketStatus(StrEnum):
    NEW = "new"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RECTIFIED = "rectified"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Priority(StrEnum):
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class WebhookFormat(StrEnum):
    JSON = "json"
    WECOM = "wecom"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a delivery round until next_attempt_at (the lease)
    DELIVERED = "delivered"
    FAILED = "failed"


def _id() -> Mapped[int]:
    return mapped_column(Integer, primary_key=True)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Squad(Base):
    __tablename__ = "squads"

    id: Mapped[int] = _id()
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    business_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = _created()

    areas: Mapped[list[SquadArea]] = relationship(cascade="all, delete-orphan")
    cameras: Mapped[list[SquadCamera]] = relationship(cascade="all, delete-orphan")
    roads: Mapped[list[SquadRoad]] = relationship(cascade="all, delete-orphan")
    premises: Mapped[list[Premises]] = relationship(cascade="all, delete-orphan")


class SquadArea(Base):
    """A jurisdiction polygon of a squad, as [[lat, lon], ...]."""

    __tablename__ = "squad_areas"

    id: Mapped[int] = _id()
    squad_id: Mapped[int] = mapped_column(ForeignKey("squads.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    polygon: Mapped[list[list[float]]] = mapped_column(JSON)


class SquadCamera(Base):
    __tablename__ = "squad_cameras"

    camera_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    squad_id: Mapped[int] = mapped_column(ForeignKey("squads.id", ondelete="CASCADE"), index=True)


class SquadRoad(Base):
    """A road a squad owns, with the officer named for it (定人定路) and its priority flags."""

    __tablename__ = "squad_roads"
    __table_args__ = (Unique("squad_id", "road", name="uq_squad_roads_squad_road"),)

    id: Mapped[int] = _id()
    squad_id: Mapped[int] = mapped_column(ForeignKey("squads.id", ondelete="CASCADE"), index=True)
    road: Mapped[str] = mapped_column(String(100), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    model_road: Mapped[bool] = mapped_column(Boolean, default=False)
    key_road: Mapped[bool] = mapped_column(Boolean, default=False)


class Premises(Base):
    """A business a specialised squad supervises; it owns street order within ``radius_m``."""

    __tablename__ = "premises"

    id: Mapped[int] = _id()
    squad_id: Mapped[int] = mapped_column(ForeignKey("squads.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    business_type: Mapped[str] = mapped_column(String(40))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[float] = mapped_column(Float)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = _id()
    username: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    squad_id: Mapped[int | None] = mapped_column(ForeignKey("squads.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created()


class AuthToken(Base):
    """An opaque bearer token; only its keyed hash is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = _id()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key", "ip", "username", "at"),)

    id: Mapped[int] = _id()
    username: Mapped[str] = mapped_column(String(100))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = _created()


class Blob(Base):
    """A stored photo, named by the SHA-256 of its bytes."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    # Set when retention removed the file; the row stays (tickets' after_photo refers to it).
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Incident(Base):
    """A rules-engine incident waiting for (or past) human review."""

    __tablename__ = "incidents"
    # Where recurrence looks for earlier incidents of a situation (source, clause, time).
    __table_args__ = (Index("ix_incidents_place", "source_id", "clause", "last_seen"),)

    id: Mapped[int] = _id()
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    standard: Mapped[int] = mapped_column(Integer)
    clause: Mapped[str] = mapped_column(String(4))
    rule: Mapped[str] = mapped_column(String(100))
    classes: Mapped[list[str]] = mapped_column(JSON)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    dwell_s: Mapped[float] = mapped_column(Float)
    zone: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    source_id: Mapped[str] = mapped_column(String(200))
    camera_id: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float] = mapped_column(Float)
    boxes: Mapped[list[Json]] = mapped_column(JSON)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(
        String(20), default=IncidentStatus.PENDING.value, index=True
    )
    record: Mapped[Json] = mapped_column(JSON)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()
    evidence_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # by retention
    # One situation, one review: later records of it are counted here instead of queued anew.
    sightings: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    suppressed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    suppression_lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Added columns' references carry no ON DELETE (SQLite cannot reflect one declared inline);
    # users are deactivated and incidents kept, never deleted.
    suppression_lifted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recurrence_of_id: Mapped[int | None] = mapped_column(  # 复发: came back after a closed ticket
        ForeignKey("incidents.id"), index=True
    )
    recurrences: Mapped[list[int]] = mapped_column(JSON, default=list, server_default="[]")


class SightingOutcome(StrEnum):
    LINKED = "linked"  # the earlier incident is pending (or has no ticket): it is updated
    STILL_PRESENT = "still_present"  # its ticket is open: an observation on the ticket (仍存在)
    SUPPRESSED = "suppressed"  # it was rejected: not queued again


class Sighting(Base):
    """A later rules-engine record of a known situation, folded into the earlier incident.

    ``record_id`` is the record's identity, so re-posts of the record update this row.
    """

    __tablename__ = "sightings"

    id: Mapped[int] = _id()
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(20))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[str]] = mapped_column(JSON)  # original frames, as tickets link them
    # Every file its records brought (originals, annotated, crops): retention removes them with
    # the incident; better evidence adds to them, so a replaced frame is never orphaned.
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = _created()


class Review(Base):
    """One reviewer decision on an incident, kept for retraining."""

    __tablename__ = "reviews"

    id: Mapped[int] = _id()
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    box_index: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[Json | None] = mapped_column(JSON)
    after: Mapped[Json | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _created()


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = _id()
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), unique=True
    )
    standard: Mapped[int] = mapped_column(Integer, index=True)
    clause: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[str] = mapped_column(String(10))
    priority_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    road: Mapped[str | None] = mapped_column(String(100))
    camera_id: Mapped[str | None] = mapped_column(String(100))
    squad_id: Mapped[int | None] = mapped_column(
        ForeignKey("squads.id", ondelete="SET NULL"), index=True
    )
    helping_squad_id: Mapped[int | None] = mapped_column(
        ForeignKey("squads.id", ondelete="SET NULL"), index=True
    )
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    route_via: Mapped[str | None] = mapped_column(String(20))
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    after_photo: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # by retention
    # A legal hold keeps the ticket's evidence whatever the retention policy says.
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    legal_hold_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)
    legal_hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TicketEvent(Base):
    """Audit trail: who changed what on a ticket, and when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = _id()
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = _created()
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    changes: Mapped[Json] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(10))
    squad_id: Mapped[int | None] = mapped_column(ForeignKey("squads.id", ondelete="CASCADE"))
    events: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created()


class OutboxMessage(Base):
    """A webhook delivery, written in the same transaction as the ticket change it announces."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = _id()
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[Json] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = _created()
    created_at: Mapped[datetime] = _created()
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When a restore brought it back undelivered: it may have been sent after the backup was
    # taken, so its receiver may have it already; it goes again with the same Idempotency-Key.
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = _id()
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = _created()
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)


class CameraState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    CONNECTING = "connecting"
    STOPPED = "stopped"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # the video ended well before its container's duration: truncated, corrupt
    FAILED = "failed"


class Camera(Base):
    """A fixed street camera watched by a stream worker; ``code`` is its incidents' source id."""

    __tablename__ = "cameras"

    id: Mapped[int] = _id()
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    stream_url: Mapped[str] = mapped_column(String(1000))
    detect_url: Mapped[str | None] = mapped_column(String(1000))  # low-resolution sub-stream
    rtsp_transport: Mapped[str] = mapped_column(String(3), default="tcp")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    road: Mapped[str | None] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[Json] = mapped_column(JSON)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class CameraRuntime(Base):
    """What a camera's worker process last reported: its heartbeat, wherever it runs.

    Workers write it (every ``camera_heartbeat_s`` and when they crash); the supervisor's watchdog
    and ``GET /cameras/{id}/status`` read it. It is the one channel that works the same for a
    local worker process and a Ray actor on another node. ``starts`` and ``frames_analysed``
    carry on across restarts (a restarted worker reads them back); a start by a user resets them.
    """

    __tablename__ = "camera_runtime"

    camera_id: Mapped[int] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(20), default=CameraState.CONNECTING.value)
    node: Mapped[str] = mapped_column(String(100), default="")  # host:pid of the worker
    starts: Mapped[int] = mapped_column(Integer, default=0)
    crashes_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    frames_analysed: Mapped[int] = mapped_column(Integer, default=0)
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_readers: Mapped[int] = mapped_column(Integer, default=0)
    rss_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    last_frame_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    analysing: Mapped[str | None] = mapped_column(String(10))  # "main" or "detect" stream
    decode: Mapped[str | None] = mapped_column(String(10))  # "all" or "keyframes"
    warning: Mapped[str | None] = mapped_column(Text)  # the stream works, but not as configured
    beat_at: Mapped[datetime] = _created()


class Job(Base):
    """A background analysis of an uploaded dashcam video."""

    __tablename__ = "jobs"

    id: Mapped[int] = _id()
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED.value, index=True)
    source_id: Mapped[str] = mapped_column(String(64))
    video_file: Mapped[str] = mapped_column(String(100))  # stored as <sha256>.<ext>
    video_name: Mapped[str] = mapped_column(String(200))  # as uploaded
    gps_file: Mapped[str | None] = mapped_column(String(100))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    incidents: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)  # the container's; None: unknown
    analysed_s: Mapped[float | None] = mapped_column(Float)  # pts of the last frame analysed
    expected_frames: Mapped[int | None] = mapped_column(Integer)  # over duration_s, as sampled
    error: Mapped[str | None] = mapped_column(Text)  # why it failed, or stopped early (partial)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    video_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # by retention
