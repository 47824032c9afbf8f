"""Teacher pseudo-labels: a COCO detector labels the taxonomy's context classes (person, dog, ...).

Human labels win: a teacher box that overlaps any human box (IoU >= ``dedup_iou``) is not added, so
the teacher never duplicates or contradicts what a person drew.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from detection.core import Detections
from detection.data.checks import ImageInfo, read_image
from detection.data.samples import Box, Sample

log = logging.getLogger(__name__)

Predict = Callable[[list[npt.NDArray[np.uint8]]], list[Detections]]


def box_iou(a: Box, b: Box) -> float:
    iw = min(a.x2, b.x2) - max(a.x1, b.x1)
    ih = min(a.y2, b.y2) - max(a.y1, b.y1)
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def teacher_boxes(
    dets: Detections, class_map: Mapping[str, str], width: int, height: int
) -> list[Box]:
    """Teacher detections of mapped COCO classes as normalised taxonomy boxes."""
    boxes = []
    for xyxy, name in zip(dets.xyxy.tolist(), dets.class_name, strict=True):
        if name in class_map:
            boxes.append(Box.from_pixels(class_map[name], xyxy, width, height))
    return boxes


def merge_teacher(human: Sequence[Box], teacher: Sequence[Box], dedup_iou: float) -> list[Box]:
    """Teacher boxes that duplicate no human box."""
    return [t for t in teacher if all(box_iou(t, h) < dedup_iou for h in human)]


class TeacherCache:
    """Teacher boxes per image sha256 in one JSON file, keyed by model hash and settings, so
    rebuilding a recipe (e.g. with new reviews) does not rerun the teacher on unchanged images."""

    def __init__(self, folder: Path | None, key: str) -> None:
        self.file = folder / f"teacher-{key}.json" if folder else None
        self.data: dict[str, list[list[object]]] = {}
        if self.file and self.file.is_file():
            self.data = json.loads(self.file.read_text(encoding="utf-8"))

    def get(self, digest: str) -> list[Box] | None:
        rows = self.data.get(digest)
        return None if rows is None else [Box(str(r[0]), *map(float, r[1:])) for r in rows]  # type: ignore[arg-type]

    def put(self, digest: str, boxes: Sequence[Box]) -> None:
        self.data[digest] = [[b.label, b.x1, b.y1, b.x2, b.y2] for b in boxes]

    def save(self) -> None:
        if self.file:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data), encoding="utf-8")
            tmp.replace(self.file)


def cache_key(model: Path, conf: float, iou: float, imgsz: int) -> str:
    digest = hashlib.sha256(model.read_bytes()).hexdigest()[:16]
    return f"{digest}-c{conf}-i{iou}-s{imgsz}"


def label_with_teacher(
    samples: Sequence[Sample],
    infos: Mapping[Path, ImageInfo],
    predict: Predict,
    class_map: Mapping[str, str],
    dedup_iou: float,
    cache: TeacherCache,
) -> list[Sample]:
    """Add teacher boxes to every sample (``teacher_boxes``), using the cache where it can."""
    out = []
    for n, sample in enumerate(samples, start=1):
        info = infos[sample.image]
        boxes = cache.get(info.sha256)
        if boxes is None:
            image, _ = read_image(sample.image)
            assert image is not None  # validated before
            boxes = teacher_boxes(predict([image])[0], class_map, info.width, info.height)
            cache.put(info.sha256, boxes)
        merged = merge_teacher(sample.boxes, boxes, dedup_iou)
        out.append(Sample(sample.image, sample.boxes, sample.source, tuple(merged)))
        if n % 200 == 0:
            log.info("teacher: %d/%d images", n, len(samples))
            cache.save()
    cache.save()
    return out
