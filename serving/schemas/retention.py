"""Retention reports (what goes, and why) and the legal hold on a ticket's evidence."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from serving.schemas import OutSchema, Schema


class FileKind(StrEnum):
    TEMP = "temp"  # left by an interrupted upload or write
    VIDEO = "video"  # dashcam video or GPS track
    EVIDENCE = "evidence"  # uploaded photo or evidence frame


class RemovalOut(OutSchema):
    kind: FileKind
    path: str = Field(description="Relative to the evidence root.")
    bytes: int
    reason: str = Field(description="Why it goes, naming the policy and the records concerned.")


class PolicyOut(OutSchema):
    temp_max_age_s: float
    video_days: int = Field(description="0: videos are kept forever.")
    evidence_days: int = Field(description="0: evidence is kept forever.")


class RetentionReport(OutSchema):
    dry_run: bool = Field(description="True: nothing was changed; this is what a run removes.")
    at: datetime = Field(description="The time the policy was applied at.")
    policy: PolicyOut
    files: list[RemovalOut]
    total_files: int
    total_bytes: int
    records: list[str] = Field(
        description="Rows marked as having lost their files, e.g. 'job 3', 'ticket 5'."
    )
    failed: list[str] = Field(
        default_factory=list, description="Files that could not be removed (kept for next run)."
    )


class LegalHoldIn(Schema):
    hold: bool = Field(description="True places the hold, false lifts it.")
    reason: str = Field(
        min_length=1, max_length=2000, description="Why (a case, a complaint): kept in the audit."
    )


class LegalHoldOut(OutSchema):
    ticket_id: int = Field(validation_alias="id")
    legal_hold: bool
    legal_hold_by: int | None = Field(description="User who placed the hold.")
    legal_hold_reason: str | None
    legal_hold_at: datetime | None
    evidence_removed_at: datetime | None = Field(
        description="Set when retention removed the ticket's evidence files."
    )
