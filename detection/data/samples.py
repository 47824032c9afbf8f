"""In-memory dataset records shared by importers, validation, dedup, split and writers.

Boxes are kept normalised (0..1, xyxy) with class *names*, not ids: ids only exist when a dataset is
written, in the taxonomy's canonical order, so sources with different id schemes merge safely.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Box:
    """One labelled box, normalised xyxy (may lie outside 0..1 until validated)."""

    label: str
    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def from_points(cls, label: str, xs: Sequence[float], ys: Sequence[float]) -> Box:
        """The bounding box of a polygon or point list (YOLO-seg, LabelMe, CVAT polygons)."""
        return cls(label, min(xs), min(ys), max(xs), max(ys))

    @classmethod
    def from_pixels(cls, label: str, xyxy: Sequence[float], width: float, height: float) -> Box:
        x1, y1, x2, y2 = xyxy
        return cls(label, x1 / width, y1 / height, x2 / width, y2 / height)

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    @property
    def area(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)

    def relabel(self, label: str) -> Box:
        return replace(self, label=label)

    def yolo_line(self, class_id: int) -> str:
        cx, cy = (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2
        w, h = self.x2 - self.x1, self.y2 - self.y1
        return f"{class_id} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


@dataclass(frozen=True)
class Sample:
    """One image with its boxes; ``source`` names the dataset it came from (e.g. 'graffiti')."""

    image: Path
    boxes: tuple[Box, ...]
    source: str
    teacher_boxes: tuple[Box, ...] = ()

    @property
    def all_boxes(self) -> tuple[Box, ...]:
        return self.boxes + self.teacher_boxes

    def with_boxes(self, boxes: Iterable[Box]) -> Sample:
        return replace(self, boxes=tuple(boxes))


class Severity(StrEnum):
    """``error``: the item (image or box) was dropped; ``warning``: kept, possibly repaired."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    """A problem found in the input, naming the file it is about."""

    path: Path
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.severity.value}: {self.path}: {self.message}"


@dataclass
class ImportResult:
    """What an importer or check produced: usable samples plus every issue met on the way."""

    samples: list[Sample] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def extend(self, other: ImportResult) -> None:
        self.samples.extend(other.samples)
        self.issues.extend(other.issues)


def format_report(issues: Sequence[Issue], limit: int = 200) -> str:
    """A readable report: counts first, then one line per issue (up to ``limit``)."""
    if not issues:
        return "no issues found"
    errors = sum(i.severity is Severity.ERROR for i in issues)
    lines = [f"{len(issues)} issue(s): {errors} error(s), {len(issues) - errors} warning(s)"]
    lines += [f"  {issue}" for issue in issues[:limit]]
    if len(issues) > limit:
        lines.append(f"  ... and {len(issues) - limit} more")
    return "\n".join(lines)
