"""Teacher pseudo-labels: detectors with other vocabularies (COCO, Open Images, Guangzhou street)
label taxonomy classes that have no human labels, as the recipe's ``teachers`` table says.

Each teacher runs once per image at a low floor confidence and its raw detections (its own class
names) are cached; which class becomes which taxonomy class, at which confidence, is applied after,
so changing a threshold or measuring a class's precision never reruns a teacher. Human labels win:
a teacher box overlapping a human box (IoU >= ``dedup_iou``) is dropped, and a teacher never adds a
class that the image's source labels by hand (there, a missing box is a true negative).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from detection.core import Detections, box_iou
from detection.data.checks import ImageInfo, read_image
from detection.data.samples import Box, Sample

log = logging.getLogger(__name__)

Predict = Callable[[list[npt.NDArray[np.uint8]]], list[Detections]]

#: Teachers run at this confidence; a class's own threshold (at least this) is applied later.
FLOOR_CONF = 0.1


@dataclass(frozen=True)
class RawBox:
    """One teacher detection in the teacher's own vocabulary, normalised xyxy."""

    name: str
    conf: float
    box: Box


@dataclass(frozen=True)
class ClassRule:
    """A used teacher class: its taxonomy class and the confidence it needs."""

    to: str
    conf: float


def raw_boxes(dets: Detections, width: int, height: int) -> list[RawBox]:
    """A teacher's detections as normalised boxes labelled with its own class names."""
    rows = zip(dets.xyxy.tolist(), dets.class_name, dets.confidence.tolist(), strict=True)
    return [
        RawBox(name, round(float(conf), 4), Box.from_pixels(name, xyxy, width, height))
        for xyxy, name, conf in rows
    ]


def teacher_boxes(raw: Sequence[RawBox], rules: Mapping[str, ClassRule]) -> list[Box]:
    """Raw detections of used classes, at or above their confidence, as taxonomy boxes."""
    return [
        r.box.relabel(rules[r.name].to)
        for r in raw
        if r.name in rules and r.conf >= rules[r.name].conf
    ]


def merge_teacher(human: Sequence[Box], teacher: Sequence[Box], dedup_iou: float) -> list[Box]:
    """Teacher boxes that duplicate no human box."""
    iou = box_iou([t.xyxy for t in teacher], [h.xyxy for h in human])
    return [t for t, fresh in zip(teacher, np.all(iou < dedup_iou, axis=1), strict=True) if fresh]


def dedup_same_class(boxes: Sequence[Box], iou: float) -> list[Box]:
    """Drop a box that repeats an earlier one of the same class (two teachers, one object)."""
    overlap = box_iou([b.xyxy for b in boxes], [b.xyxy for b in boxes])
    kept: list[int] = []
    for i, box in enumerate(boxes):
        if all(boxes[k].label != box.label or overlap[k, i] < iou for k in kept):
            kept.append(i)
    return [boxes[k] for k in kept]


class TeacherCache:
    """Raw teacher detections per image sha256 in one JSON file, keyed by the model's hash and
    settings, so rebuilding a recipe (new reviews, new thresholds) reruns no teacher."""

    def __init__(self, folder: Path | None, key: str) -> None:
        self.file = folder / f"teacher-{key}.json" if folder else None
        self.data: dict[str, list[list[object]]] = {}
        if self.file and self.file.is_file():
            self.data = json.loads(self.file.read_text(encoding="utf-8"))

    def get(self, digest: str) -> list[RawBox] | None:
        rows = self.data.get(digest)
        if rows is None:
            return None
        out = []
        for name, conf, *xyxy in rows:
            out.append(RawBox(str(name), float(conf), Box(str(name), *map(float, xyxy))))  # type: ignore[arg-type]
        return out

    def put(self, digest: str, boxes: Sequence[RawBox]) -> None:
        self.data[digest] = [
            [r.name, r.conf, r.box.x1, r.box.y1, r.box.x2, r.box.y2] for r in boxes
        ]

    def save(self) -> None:
        if self.file:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data), encoding="utf-8")
            tmp.replace(self.file)


def cache_key(model: Path, iou: float, imgsz: int) -> str:
    digest = hashlib.sha256(model.read_bytes()).hexdigest()[:16]
    return f"{digest}-f{FLOOR_CONF}-i{iou}-s{imgsz}"


def run_teacher(
    samples: Sequence[Sample],
    infos: Mapping[Path, ImageInfo],
    predict: Predict,
    cache: TeacherCache,
    label: str = "teacher",
) -> dict[Path, list[RawBox]]:
    """Raw detections for every sample's image, from the cache where it has them."""
    out: dict[Path, list[RawBox]] = {}
    for n, sample in enumerate(samples, start=1):
        info = infos[sample.image]
        raw = cache.get(info.sha256)
        if raw is None:
            image, _ = read_image(sample.image)
            assert image is not None  # validated before
            raw = raw_boxes(predict([image])[0], info.width, info.height)
            cache.put(info.sha256, raw)
        out[sample.image] = raw
        if n % 200 == 0:
            log.info("%s: %d/%d images", label, n, len(samples))
            cache.save()
    cache.save()
    return out
