"""Stored photos."""

from __future__ import annotations

from datetime import datetime

from serving.schemas import OutSchema


class BlobOut(OutSchema):
    sha256: str
    size: int
    media_type: str
    width: int
    height: int
    created_at: datetime
