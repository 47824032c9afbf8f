"""Importers for COCO JSON, Pascal VOC XML, LabelMe JSON, Label Studio JSON and CVAT XML (1.1).

Each returns an ``ImportResult``: samples with normalised boxes (polygons become their bounding
box) and one ``Issue`` per problem (missing image, unknown category, unsupported shape), so one bad
annotation never stops an import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

from detection.data.samples import Box, ImportResult, Issue, Sample, Severity
from detection.errors import InputError


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read annotation file {file}: {exc}") from exc


def _read_xml(file: Path) -> Element:
    try:
        root: Element | None = ElementTree.parse(file).getroot()
    except (OSError, ElementTree.ParseError) as exc:
        raise InputError(f"cannot read annotation file {file}: {exc}") from exc
    if root is None:
        raise InputError(f"annotation file {file} has no root element")
    return root


def _find_image(name: str, folders: Iterable[Path]) -> Path | None:
    """The image ``name`` (a relative path or a bare file name) in the first folder holding it."""
    for folder in folders:
        for candidate in (folder / name, folder / Path(name).name):
            if candidate.is_file():
                return candidate
    return None


def _sample_or_issue(
    result: ImportResult,
    name: str,
    folders: Sequence[Path],
    boxes: list[Box],
    source: str,
    ann: Path,
) -> None:
    image = _find_image(name, folders)
    if image is None:
        where = ", ".join(str(f) for f in folders)
        result.issues.append(Issue(ann, f"image '{name}' not found in {where}; skipped"))
        return
    result.samples.append(Sample(image=image, boxes=tuple(boxes), source=source))


def import_coco(file: Path, source: str, images: Path | None = None) -> ImportResult:
    """COCO detection JSON (``bbox`` = x, y, w, h in pixels). Images default to the JSON's folder
    and its ``images`` sub-folder."""
    raw = _read_json(file)
    if not isinstance(raw, dict) or not {"images", "annotations", "categories"} <= raw.keys():
        raise InputError(f"{file}: not a COCO file (needs images, annotations, categories)")
    categories = {c["id"]: c["name"] for c in raw["categories"]}
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in raw["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    folders = [images] if images else [file.parent / "images", file.parent]
    result = ImportResult()
    for img in raw["images"]:
        w, h = float(img["width"]), float(img["height"])
        boxes = []
        for ann in by_image.get(img["id"], []):
            label = categories.get(ann["category_id"])
            if label is None:
                msg = f"annotation {ann.get('id')}: unknown category id {ann['category_id']}"
                result.issues.append(Issue(file, msg + "; box dropped"))
                continue
            x, y, bw, bh = ann["bbox"]
            boxes.append(Box.from_pixels(label, (x, y, x + bw, y + bh), w, h))
        _sample_or_issue(result, img["file_name"], folders, boxes, source, file)
    return result


def import_voc(folder: Path, source: str, images: Path | None = None) -> ImportResult:
    """Pascal VOC: one XML per image (``Annotations/`` or next to the images)."""
    result = ImportResult()
    folders = [images] if images else [folder / "JPEGImages", folder / "images", folder]
    for xml in sorted(folder.rglob("*.xml")):
        root = _read_xml(xml)
        size = root.find("size")
        if size is None:
            result.issues.append(Issue(xml, "no <size>; skipped"))
            continue
        w, h = float(size.findtext("width", "0")), float(size.findtext("height", "0"))
        boxes = []
        for obj in root.iter("object"):
            bb = obj.find("bndbox")
            if bb is None or w <= 0 or h <= 0:
                result.issues.append(Issue(xml, "object without <bndbox> or image size; dropped"))
                continue
            xyxy = [float(bb.findtext(k, "nan")) for k in ("xmin", "ymin", "xmax", "ymax")]
            boxes.append(Box.from_pixels(obj.findtext("name", "").strip(), xyxy, w, h))
        _sample_or_issue(
            result, root.findtext("filename", xml.stem), [xml.parent, *folders], boxes, source, xml
        )
    return result


def _shape_box(
    label: str, shape_type: str, points: list[list[float]], w: float, h: float
) -> Box | None:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if shape_type == "circle" and len(points) == 2:
        r = ((xs[1] - xs[0]) ** 2 + (ys[1] - ys[0]) ** 2) ** 0.5
        return Box.from_pixels(label, (xs[0] - r, ys[0] - r, xs[0] + r, ys[0] + r), w, h)
    if shape_type in ("rectangle", "polygon") and len(points) >= 2:
        return Box.from_pixels(label, (min(xs), min(ys), max(xs), max(ys)), w, h)
    return None


def import_labelme(folder: Path, source: str, images: Path | None = None) -> ImportResult:
    """LabelMe: one JSON per image; rectangles, polygons and circles become boxes."""
    result = ImportResult()
    for file in sorted(folder.rglob("*.json")):
        raw = _read_json(file)
        if not isinstance(raw, dict) or "shapes" not in raw or "imagePath" not in raw:
            result.issues.append(
                Issue(file, "not a LabelMe file (needs shapes, imagePath); skipped")
            )
            continue
        w, h = float(raw.get("imageWidth") or 0), float(raw.get("imageHeight") or 0)
        boxes = []
        for shape in raw["shapes"]:
            kind = shape.get("shape_type") or "polygon"
            box = _shape_box(shape["label"], kind, shape["points"], w, h) if w and h else None
            if box is None:
                msg = f"shape '{shape.get('label')}' ({kind}) cannot be a box; dropped"
                result.issues.append(Issue(file, msg, Severity.WARNING))
                continue
            boxes.append(box)
        folders = [images] if images else [file.parent]
        _sample_or_issue(result, raw["imagePath"], folders, boxes, source, file)
    return result


def _ls_box(item: dict[str, Any]) -> Box | None:
    value = item.get("value", {})
    labels = value.get("rectanglelabels") or value.get("polygonlabels") or value.get("labels")
    if not labels:
        return None
    if "points" in value:
        pts = value["points"]
        return Box.from_points(labels[0], [p[0] / 100 for p in pts], [p[1] / 100 for p in pts])
    x, y, w, h = (value.get(k) for k in ("x", "y", "width", "height"))
    if None in (x, y, w, h):
        return None
    return Box(labels[0], x / 100, y / 100, (x + w) / 100, (y + h) / 100)


def import_labelstudio(file: Path, source: str, images: Path | None = None) -> ImportResult:
    """Label Studio JSON export (rectangle and polygon labels, coordinates in percent); the first
    annotation that was not cancelled counts."""
    raw = _read_json(file)
    if not isinstance(raw, list):
        raise InputError(f"{file}: a Label Studio JSON export is a list of tasks")
    folders = [images] if images else [file.parent / "images", file.parent]
    result = ImportResult()
    for task in raw:
        name = str(task.get("data", {}).get("image", ""))
        done = [a for a in task.get("annotations", []) if not a.get("was_cancelled")]
        if not name or not done:
            msg = f"task {task.get('id')}: no image or no annotation; skipped"
            result.issues.append(Issue(file, msg, Severity.WARNING))
            continue
        boxes = []
        for item in done[0].get("result", []):
            box = _ls_box(item)
            if box is None:
                msg = f"task {task.get('id')}: result of type '{item.get('type')}' is not a box"
                result.issues.append(Issue(file, msg + "; dropped", Severity.WARNING))
                continue
            boxes.append(box)
        _sample_or_issue(result, Path(name.split("?")[0]).name, folders, boxes, source, file)
    return result


def import_cvat(file: Path, source: str, images: Path | None = None) -> ImportResult:
    """CVAT 'for images 1.1' XML: ``<box>`` and ``<polygon>`` per ``<image>``."""
    root = _read_xml(file)
    folders = [images] if images else [file.parent / "images", file.parent]
    result = ImportResult()
    for img in root.iter("image"):
        w, h = float(img.get("width", 0)), float(img.get("height", 0))
        boxes = []
        for box in img.iter("box"):
            xyxy = [float(box.get(k, "nan")) for k in ("xtl", "ytl", "xbr", "ybr")]
            boxes.append(Box.from_pixels(box.get("label", ""), xyxy, w, h))
        for poly in img.iter("polygon"):
            pts = [tuple(map(float, p.split(","))) for p in poly.get("points", "").split(";") if p]
            xs, ys = [p[0] / w for p in pts], [p[1] / h for p in pts]
            boxes.append(Box.from_points(poly.get("label", ""), xs, ys))
        _sample_or_issue(result, img.get("name", ""), folders, boxes, source, file)
    return result
