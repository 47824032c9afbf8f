"""Request and response models, kept apart from the tables."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """Strict input: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class OutSchema(BaseModel):
    """Responses built from ORM rows."""

    model_config = ConfigDict(from_attributes=True)
