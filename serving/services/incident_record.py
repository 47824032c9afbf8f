"""An incident's stored rules record (``Incident.record``), read through one typed view.

The row keeps the record exactly as the rules engine posted it (``Incident.to_json()`` of
``detection.rules.incident``); its columns copy what queries filter on. What the service reads
from the rest (names, evidence frames, regions, the priority flag) it reads here, parsed once per
row, rather than as keys of a raw dict. The view lives below ``incidents``, ``recurrence`` and
``tickets`` because all three read it and ``incidents`` uses the other two.
"""

from __future__ import annotations

from pydantic import AliasPath, BaseModel, ConfigDict, Field

from detection.rules import Incident as IncidentRecord
from serving.db.models import Incident

Box = tuple[float, float, float, float]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class EvidenceFrameView(_View):
    """An evidence frame: where the situation was in it, and its original (full-resolution)."""

    region_xyxy: Box
    original: str = Field(validation_alias=AliasPath("original", "sha256"))


class RecordView(_View):
    """The fields of a rules record the service reads; parsed from the row or from a record."""

    id: str
    status: str = Field(description="The record's own 'open' or 'closed'.")
    standard_name: str = Field(validation_alias=AliasPath("standard", "name_zh"))
    clause_name: str = Field(validation_alias=AliasPath("clause", "name_zh"))
    source_name: str = Field(validation_alias=AliasPath("source", "name"))
    in_priority_hours: bool
    frame_size: tuple[int, int]
    region_xyxy: Box = Field(description="Region of the last observation.")
    # Both null when the engine ran without an evidence store.
    opened: EvidenceFrameView | None = Field(None, validation_alias=AliasPath("evidence", "opened"))
    best: EvidenceFrameView | None = Field(None, validation_alias=AliasPath("evidence", "best"))

    @classmethod
    def of(cls, incident: Incident) -> RecordView:
        """The view of the record an incident row stores."""
        return cls.model_validate(incident.record)

    @classmethod
    def of_record(cls, record: IncidentRecord) -> RecordView:
        """The same view of a record not stored yet (a new post being matched or stored)."""
        return cls.model_validate(record, from_attributes=True)

    @property
    def frames(self) -> list[EvidenceFrameView]:
        return [f for f in (self.opened, self.best) if f is not None]

    @property
    def originals(self) -> list[str]:
        """The original full-resolution frames, opened first: what tickets and reports link to
        (原图)."""
        return list(dict.fromkeys(f.original for f in self.frames))

    @property
    def best_image(self) -> str | None:
        """SHA-256 of the best original evidence frame: the image reviewers label."""
        return self.best.original if self.best else None

    @property
    def best_region(self) -> list[float] | None:
        """The evidence region (xyxy pixels) on the best frame."""
        return list(self.best.region_xyxy) if self.best else None

    @property
    def regions(self) -> list[list[float]]:
        """Where the record saw its situation: its last observation and its evidence frames'
        regions (recurrence compares places by them)."""
        return [list(box) for box in (self.region_xyxy, *(f.region_xyxy for f in self.frames))]
