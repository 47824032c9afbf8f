"""The recipe's ``teachers`` table: which teacher model labels which taxonomy class, at which
confidence, and how well that was measured to work. Teachers are data, not code: adding a teacher
or a class mapping is a recipe edit, and a class whose measured precision is under the recipe's bar
cannot be used (it stays in the table with ``use: false`` and the reason, so the decision is kept).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from detection.data.teacher import FLOOR_CONF, ClassRule
from detection.errors import ConfigError
from detection.taxonomy import Taxonomy


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Truth(_Strict):
    """Where a teacher class's precision is measured: a labelled source, or another teacher."""

    source: str | None = Field(
        None, description="Recipe source whose human labels are the truth (on its images only)."
    )
    teacher: str | None = Field(None, description="Or another teacher's detections, e.g. 'coco'.")
    name: str = Field(
        description="Truth class: a taxonomy name for a source, the teacher's own name otherwise."
    )
    conf: float = Field(0.5, gt=0.0, lt=1.0, description="Confidence of a truth teacher's boxes.")
    iou: float = Field(
        0.5, gt=0.0, le=1.0, description="IoU a teacher box needs to count as right."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Truth:
        if (self.source is None) == (self.teacher is None):
            raise ValueError("truth needs exactly one of 'source' or 'teacher'")
        return self


class TeacherClass(_Strict):
    to: str = Field(description="Taxonomy class the teacher's class becomes.")
    conf: float = Field(ge=FLOOR_CONF, lt=1.0, description="Confidence a teacher box needs.")
    use: bool = Field(True, description="false: measured and left out (give the reason).")
    precision: float | None = Field(
        None, ge=0.0, le=1.0, description="Measured precision at 'conf' (see 'measured')."
    )
    boxes: int | None = Field(
        None, ge=0, description="How many teacher boxes the precision was measured on."
    )
    measured: str | None = Field(
        None, description="How the precision was measured: truth set and counts, or a gallery."
    )
    truth: Truth | None = Field(
        None, description="Labelled truth `shirong data teachers` measures precision against."
    )
    reason: str | None = Field(None, description="Why the class is left out (use: false).")

    @model_validator(mode="after")
    def _reason_when_unused(self) -> TeacherClass:
        if not self.use and not self.reason:
            raise ValueError(f"'{self.to}': a class left out (use: false) needs a 'reason'")
        return self


class TeacherSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="Short teacher id, e.g. 'oiv7'.")
    model: Path = Field(description="Detector ONNX file with class names in its metadata.")
    iou: float = Field(0.5, gt=0.0, lt=1.0, description="NMS IoU of the teacher.")
    imgsz: int = Field(640, ge=64, le=2048, description="Teacher input size (pixels).")
    classes: dict[str, TeacherClass] = Field(
        min_length=1, description="Teacher class name (as the model names it) → mapping."
    )

    def rules(self) -> dict[str, ClassRule]:
        return {k: ClassRule(v.to, v.conf) for k, v in self.classes.items() if v.use}


def check_bar(teachers: Sequence[TeacherSpec], bar: float, min_boxes: int, origin: Path) -> None:
    """A used class needs a precision at or above the recipe's bar, measured on enough boxes."""
    if bar <= 0:
        return
    for spec in teachers:
        for name, cls in spec.classes.items():
            if not cls.use:
                continue
            where = f"recipe {origin}: teacher '{spec.name}' class '{name}' → '{cls.to}'"
            fix = "measure it (`shirong data teachers`) or set 'use: false' with a reason"
            if cls.precision is None or cls.precision < bar:
                got = "no measured precision" if cls.precision is None else cls.precision
                raise ConfigError(f"{where} has {got}, under the recipe's bar {bar}; {fix}")
            if (cls.boxes or 0) < min_boxes:
                raise ConfigError(
                    f"{where}: precision measured on {cls.boxes or 0} boxes, fewer than the "
                    f"recipe's min_teacher_boxes {min_boxes}; {fix}"
                )


def check_names(spec: TeacherSpec, names: Sequence[str], taxonomy: Taxonomy) -> None:
    """Every mapped class exists in the teacher model and every target in the taxonomy."""
    known = set(names)
    for name, cls in spec.classes.items():
        if name not in known:
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"; close: {', '.join(close)}" if close else ""
            raise ConfigError(
                f"teacher '{spec.name}' ({spec.model}): class '{name}' is not one of its "
                f"{len(names)} classes{hint}"
            )
        if cls.to not in taxonomy.class_names:
            raise ConfigError(
                f"teacher '{spec.name}': '{name}' maps to '{cls.to}', which is not a taxonomy class"
            )
