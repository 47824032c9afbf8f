"""Incidents from the rules engine and the reviewer's decisions on them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from serving.db.models import IncidentStatus
from serving.schemas import OutSchema, Schema
from serving.schemas.common import Note

Coordinate = Annotated[float, Field(ge=0, le=100_000, description="Pixel coordinate.")]
Xyxy = tuple[Coordinate, Coordinate, Coordinate, Coordinate]


class ReviewAction(StrEnum):
    """A reviewer's decision, posted to ``/incidents/{id}/reviews``."""

    CONFIRM = "confirm"
    REJECT = "reject"
    RELABEL = "relabel"
    CORRECT_BOX = "correct_box"
    ADD_BOX = "add_box"


class TrailAction(StrEnum):
    """A review-trail entry that another route makes: not a decision to post."""

    LIFT_SUPPRESSION = "lift_suppression"  # DELETE /incidents/{id}/suppression


class RejectReason(StrEnum):
    FALSE_POSITIVE = "false_positive"
    DUPLICATE = "duplicate"
    NOT_A_VIOLATION = "not_a_violation"
    OTHER = "other"


class ReviewIn(Schema):
    action: ReviewAction
    reason: RejectReason | None = Field(default=None, description="Required to reject.")
    box_index: int | None = Field(
        default=None, ge=0, description="Evidence object to relabel or box (index into boxes)."
    )
    class_name: str | None = Field(default=None, description="New class, for relabel and add_box.")
    xyxy: Xyxy | None = Field(
        default=None,
        description="True box on the object's evidence image, for correct_box and add_box.",
    )
    note: Note

    @model_validator(mode="after")
    def _fields_for_action(self) -> ReviewIn:
        needed = {
            ReviewAction.REJECT: ("reason",),
            ReviewAction.RELABEL: ("box_index", "class_name"),
            ReviewAction.CORRECT_BOX: ("box_index", "xyxy"),
            ReviewAction.ADD_BOX: ("class_name", "xyxy"),
            ReviewAction.CONFIRM: (),
        }[self.action]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"action '{self.action.value}' needs {', '.join(missing)}")
        if self.xyxy is not None and (self.xyxy[2] <= self.xyxy[0] or self.xyxy[3] <= self.xyxy[1]):
            raise ValueError("xyxy must have x2 > x1 and y2 > y1")
        return self


class Untrainable(Schema):
    """Why confirming an incident as it stands would give no training data."""

    code: str = Field(description="Stable code: 'no_evidence_image' or 'unboxed_objects'.")
    detail: str = Field(description="The reason in English.")
    boxes: list[int] = Field(default=[], description="Indices (into boxes) of the boxes at fault.")


class IncidentOut(OutSchema):
    id: int
    status: IncidentStatus
    standard: int
    clause: str
    rule: str
    classes: list[str]
    first_seen: datetime
    last_seen: datetime
    dwell_s: float
    zone: str | None
    lat: float | None
    lon: float | None
    source_id: str
    camera_id: str | None
    confidence: float
    boxes: list[dict[str, object]]
    evidence: list[str]
    record_id: str
    created_at: datetime
    updated_at: datetime
    sightings: int = Field(
        default=1, description="Rules-engine records of this situation, this one's included."
    )
    suppressed: int = Field(
        default=0, description="Of those, sightings not queued because it was rejected."
    )
    suppression_lifted_at: datetime | None = Field(
        default=None, description="When a reviewer let sightings of it be queued again."
    )
    recurrence_of: int | None = Field(
        default=None,
        validation_alias="recurrence_of_id",
        description="The incident whose closed ticket this one came back after (复发).",
    )
    recurrences: list[int] = Field(
        default=[], description="Incidents that came back after this one's ticket closed."
    )
    ticket_id: int | None = None
    standard_name: str = Field(default="", description="Chinese name of the standard.")
    clause_name: str = Field(default="", description="Chinese name of the clause.")
    source_name: str = Field(default="", description="Human name of the camera or source.")
    image: str | None = Field(
        default=None, description="SHA-256 of the best original evidence frame (the one to label)."
    )
    image_region: list[float] | None = Field(
        default=None, description="Evidence region (xyxy pixels) on that frame."
    )
    trainable: bool | None = Field(
        default=None,
        description="Whether confirming it as it stands gives training data (the corrections "
        "export); null where the endpoint does not assess it.",
    )
    untrainable: Untrainable | None = Field(
        default=None, description="Why not, when trainable is false."
    )


class ReviewOut(OutSchema):
    id: int
    incident_id: int
    reviewer_id: int | None
    action: ReviewAction | TrailAction
    reason: RejectReason | None
    box_index: int | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    note: str
    created_at: datetime


class ReviewResult(Schema):
    review: ReviewOut
    incident: IncidentOut
    ticket_id: int | None = Field(description="The ticket a confirmation created.")
