"""Reviewed frames with their corrected boxes, exported as YOLO, COCO or Label Studio (a zip).

What a reviewer decided becomes training data: a confirmed incident's best original frame with
every object's box (as the rules engine recorded it, relabelled, redrawn, or drawn where the model
missed one), and a frame rejected as a false positive as a negative image (empty label file; only
boxes the reviewer drew are kept). Incidents rejected for another reason (duplicate, not a
violation) show real objects, so they are left out rather than taught as background. Every
left-out incident is listed with its reason in ``corrections.json`` inside the zip. Class ids
follow the taxonomy's canonical order.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import yaml
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from detection.taxonomy import Taxonomy
from serving.db.models import Incident, IncidentStatus, Review
from serving.schemas.incidents import RejectReason, ReviewAction
from serving.services.evidence import BlobStore
from serving.services.incident_record import RecordView

Xyxy = tuple[float, float, float, float]


class ExportFormat(StrEnum):
    YOLO = "yolo"
    COCO = "coco"
    LABELSTUDIO = "labelstudio"


@dataclass(frozen=True)
class LabeledBox:
    class_name: str
    xyxy: Xyxy


@dataclass
class LabeledFrame:
    """One evidence image and every corrected box on it (several incidents may share a frame)."""

    sha256: str
    path: Path
    width: int
    height: int
    boxes: list[LabeledBox] = field(default_factory=list)
    incident_ids: list[int] = field(default_factory=list)

    @property
    def file_name(self) -> str:
        return f"{self.sha256}{self.path.suffix.lower()}"


@dataclass
class Corrections:
    frames: list[LabeledFrame] = field(default_factory=list)
    skipped: list[dict[str, object]] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "frames": [
                {"file": f.file_name, "incidents": f.incident_ids, "boxes": len(f.boxes)}
                for f in self.frames
            ],
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class TrainingGap:
    """Why confirming an incident gives no training data: a stable code, the English detail and
    the indices of the boxes at fault (the UI names them in the reviewer's language)."""

    code: str
    detail: str
    boxes: tuple[int, ...] = ()


def training_gap(boxes: Sequence[Mapping[str, Any]], has_image: bool) -> TrainingGap | None:
    """What keeps a confirmation of these boxes from being training data; None: nothing.

    Every detected object needs its own box: an undrawn one may stand for the evidence region
    only when it is the region's sole object (records from before per-object boxes).
    """
    if not has_image:
        return TrainingGap("no_evidence_image", "the incident has no evidence image")
    detected = [i for i, b in enumerate(boxes) if not b.get("added")]
    unboxed = tuple(i for i in detected if boxes[i].get("xyxy") is None)
    if unboxed and len(detected) > 1:
        numbers = ", ".join(str(i + 1) for i in unboxed)
        detail = (
            f"objects {numbers} of this multi-object incident have no box on the evidence frame; "
            "draw each to make the confirmation training data"
        )
        return TrainingGap("unboxed_objects", detail, unboxed)
    return None


def collect(session: Session, store: BlobStore, taxonomy: Taxonomy) -> Corrections:
    """Reviewed incidents → labelled frames, oldest incident first."""
    reviewed = (IncidentStatus.CONFIRMED.value, IncidentStatus.REJECTED.value)
    query = select(Incident).where(Incident.status.in_(reviewed)).order_by(Incident.id)
    result = Corrections()
    frames: dict[str, LabeledFrame] = {}
    for incident in session.scalars(query):
        stored = RecordView.of(incident)
        boxes_or_reason = _boxes(session, incident, stored, frozenset(taxonomy.class_names))
        image = stored.best_image
        if isinstance(boxes_or_reason, str) or image is None:
            reason = boxes_or_reason if isinstance(boxes_or_reason, str) else "no evidence image"
            result.skipped.append({"incident": incident.id, "reason": reason})
            continue
        frame = frames.get(image) or _open_frame(store, image)
        if frame is None:
            result.skipped.append({"incident": incident.id, "reason": "evidence file missing"})
            continue
        frames[image] = frame
        frame.incident_ids.append(incident.id)
        for box in boxes_or_reason:
            clipped = _clip(box, frame)
            if clipped not in frame.boxes:
                frame.boxes.append(clipped)
    result.frames = list(frames.values())
    return result


def _boxes(
    session: Session, incident: Incident, stored: RecordView, known: frozenset[str]
) -> list[LabeledBox] | str:
    """The incident's true boxes, or why it cannot be used."""
    unknown = sorted({str(b["class_name"]) for b in incident.boxes} - known)
    if unknown:
        return f"classes no longer in the taxonomy: {', '.join(unknown)}"
    drawn = [b for b in incident.boxes if b.get("added")]
    if incident.status == IncidentStatus.REJECTED.value:
        reason = _reject_reason(session, incident.id)
        if reason != RejectReason.FALSE_POSITIVE.value:
            return f"rejected as {reason}: the objects may be real, so not a negative"
        return [_labeled(b, None) for b in drawn]
    gap = training_gap(incident.boxes, stored.best_image is not None)
    if gap is not None:
        return gap.detail
    detected = [b for b in incident.boxes if not b.get("added")]
    region = stored.best_region if len(detected) == 1 else None
    return [_labeled(b, region) for b in [*detected, *drawn]]


def _labeled(box: dict[str, Any], fallback: list[float] | None) -> LabeledBox:
    x1, y1, x2, y2 = (float(v) for v in (box.get("xyxy") or fallback or ()))
    return LabeledBox(str(box["class_name"]), (x1, y1, x2, y2))


def _reject_reason(session: Session, incident_id: int) -> str | None:
    query = (
        select(Review.reason)
        .where(Review.incident_id == incident_id, Review.action == ReviewAction.REJECT.value)
        .order_by(Review.id.desc())
    )
    return session.scalars(query).first()


def _open_frame(store: BlobStore, sha256: str) -> LabeledFrame | None:
    try:
        path = store.files.path(sha256)
        with Image.open(path) as image:
            width, height = image.size
    except (FileNotFoundError, OSError):
        return None
    return LabeledFrame(sha256, path, width, height)


def _clip(box: LabeledBox, frame: LabeledFrame) -> LabeledBox:
    x1, y1, x2, y2 = box.xyxy
    w, h = frame.width, frame.height
    xyxy = (min(max(x1, 0), w), min(max(y1, 0), h), min(max(x2, 0), w), min(max(y2, 0), h))
    return LabeledBox(box.class_name, xyxy)


def export_zip(
    corrections: Corrections, taxonomy: Taxonomy, fmt: ExportFormat, out: IO[bytes]
) -> None:
    """Write the dataset zip to ``out`` (a file: the images make it large): ``images/``, the
    format's labels and ``corrections.json``."""
    names = taxonomy.class_names
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for frame in corrections.frames:
            archive.write(frame.path, f"images/{frame.file_name}", zipfile.ZIP_STORED)
        for name, text in _label_files(corrections.frames, names, fmt).items():
            archive.writestr(name, text)
        archive.writestr("corrections.json", _json(corrections.summary()))


def _label_files(
    frames: Sequence[LabeledFrame], names: tuple[str, ...], fmt: ExportFormat
) -> dict[str, str]:
    if fmt is ExportFormat.YOLO:
        return yolo_files(frames, names)
    if fmt is ExportFormat.COCO:
        return {"annotations.json": _json(coco(frames, names))}
    return {"tasks.json": _json(labelstudio(frames))}


def yolo_files(frames: Sequence[LabeledFrame], names: tuple[str, ...]) -> dict[str, str]:
    """``labels/<image>.txt`` per frame (empty for a negative) and ``data.yaml``."""
    files = {}
    for frame in frames:
        lines = [_yolo_line(b, frame, names.index(b.class_name)) for b in frame.boxes]
        files[f"labels/{Path(frame.file_name).stem}.txt"] = "".join(f"{x}\n" for x in lines)
    data = {"path": ".", "train": "images", "val": "images", "nc": len(names)}
    data["names"] = dict(enumerate(names))
    files["data.yaml"] = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return files


def _yolo_line(box: LabeledBox, frame: LabeledFrame, class_id: int) -> str:
    x1, y1, x2, y2 = box.xyxy
    cx, cy = (x1 + x2) / 2 / frame.width, (y1 + y2) / 2 / frame.height
    w, h = (x2 - x1) / frame.width, (y2 - y1) / frame.height
    return f"{class_id} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def coco(frames: Sequence[LabeledFrame], names: tuple[str, ...]) -> dict[str, object]:
    """COCO detection JSON; category ids are canonical class index + 1 (0 is COCO's background)."""
    images: list[dict[str, object]] = []
    annotations: list[dict[str, object]] = []
    for image_id, frame in enumerate(frames, start=1):
        images.append(
            {
                "id": image_id,
                "file_name": f"images/{frame.file_name}",
                "width": frame.width,
                "height": frame.height,
            }
        )
        for box in frame.boxes:
            x1, y1, x2, y2 = box.xyxy
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": names.index(box.class_name) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i + 1, "name": n, "supercategory": "shirong"} for i, n in enumerate(names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def labelstudio(frames: Sequence[LabeledFrame]) -> list[dict[str, object]]:
    """Label Studio import tasks, one per frame, boxes as rectangle labels in percent."""
    tasks: list[dict[str, object]] = []
    for task_id, frame in enumerate(frames, start=1):
        results = [_ls_result(box, frame) for box in frame.boxes]
        tasks.append(
            {
                "id": task_id,
                "data": {"image": f"images/{frame.file_name}"},
                "annotations": [{"result": results, "was_cancelled": False}],
            }
        )
    return tasks


def _ls_result(box: LabeledBox, frame: LabeledFrame) -> dict[str, object]:
    x1, y1, x2, y2 = box.xyxy
    return {
        "type": "rectanglelabels",
        "from_name": "label",
        "to_name": "image",
        "original_width": frame.width,
        "original_height": frame.height,
        "value": {
            "x": 100 * x1 / frame.width,
            "y": 100 * y1 / frame.height,
            "width": 100 * (x2 - x1) / frame.width,
            "height": 100 * (y2 - y1) / frame.height,
            "rotation": 0,
            "rectanglelabels": [box.class_name],
        },
    }


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)
