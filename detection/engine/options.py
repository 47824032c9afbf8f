"""Validated detector options shared by every backend, so bad values fail early with one message."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detection.errors import ConfigError, validation_message

Side = Annotated[int, Field(ge=32, le=8192)]


class DetectorOptions(BaseModel):
    """Thresholds and input size common to the ONNX and Ultralytics backends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conf: float = Field(
        0.25, ge=0.0, le=1.0, description="keep boxes whose best class score exceeds this"
    )
    iou: float = Field(
        0.45,
        ge=0.0,
        le=1.0,
        description="NMS drops a same-class box overlapping a better one by more",
    )
    imgsz: Side | tuple[Side, Side] | None = Field(
        None,
        description="network input side (or height, width); None: what the model was exported for",
    )
    max_det: int = Field(300, ge=1, le=30000, description="most boxes kept per image, best first")

    @property
    def imgsz_hw(self) -> tuple[int, int] | None:
        """``imgsz`` as (height, width), or None when the model decides."""
        if self.imgsz is None or isinstance(self.imgsz, tuple):
            return self.imgsz
        return (self.imgsz, self.imgsz)


def parse_options(**values: Any) -> DetectorOptions:
    """Build ``DetectorOptions``; validation errors become a ``ConfigError`` naming the field."""
    try:
        return DetectorOptions(**values)
    except ValidationError as exc:
        problems = validation_message(exc, top="options")
        raise ConfigError(f"invalid detector options: {problems}") from exc
