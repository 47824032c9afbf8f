"""YOLO txt importer (boxes and YOLO-seg polygons) and class-name discovery for YOLO folders."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from detection.data.samples import IMAGE_SUFFIXES, Box, ImportResult, Issue, Sample, Severity
from detection.errors import InputError


def read_class_names(root: Path) -> tuple[str, ...]:
    """Class names of a YOLO folder from ``classes.json`` (list or index map) or ``data.yaml``."""
    json_file, yaml_file = root / "classes.json", root / "data.yaml"
    if json_file.is_file():
        raw = _load(json_file, json.loads)
    elif yaml_file.is_file():
        raw = (_load(yaml_file, yaml.safe_load) or {}).get("names")
    else:
        raise InputError(f"{root}: no classes.json or data.yaml with class names")
    return _names_from(raw, json_file if json_file.is_file() else yaml_file)


def _load(file: Path, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read class names from {file}: {exc}") from exc


def _names_from(raw: object, file: Path) -> tuple[str, ...]:
    if isinstance(raw, list) and all(isinstance(n, str) for n in raw):
        return tuple(raw)
    if isinstance(raw, dict):
        try:
            ordered = sorted((int(k), str(v)) for k, v in raw.items())
        except (TypeError, ValueError) as exc:
            raise InputError(f"{file}: class-name keys must be integer ids") from exc
        if [k for k, _ in ordered] != list(range(len(ordered))):
            raise InputError(f"{file}: class ids must run 0..n-1 without gaps")
        return tuple(v for _, v in ordered)
    raise InputError(f"{file}: class names must be a list or an id → name mapping")


def image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted for determinism."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def label_path(image: Path, images_dir: Path, labels_dir: Path) -> Path:
    return (labels_dir / image.relative_to(images_dir)).with_suffix(".txt")


def import_yolo(root: Path, source: str, names: tuple[str, ...] | None = None) -> ImportResult:
    """Read ``root/images`` + ``root/labels``; an image without a label file is reported and skipped
    (an empty label file means 'no objects' and is kept)."""
    images_dir, labels_dir = root / "images", root / "labels"
    if not images_dir.is_dir():
        raise InputError(f"{root}: YOLO folder needs an 'images' sub-folder")
    names = names or read_class_names(root)
    result = ImportResult()
    for image in image_files(images_dir):
        label_file = label_path(image, images_dir, labels_dir)
        if not label_file.is_file():
            result.issues.append(Issue(image, f"missing label file {label_file}; image skipped"))
            continue
        boxes, issues = parse_yolo_labels(label_file, names)
        result.issues.extend(issues)
        result.samples.append(Sample(image=image, boxes=tuple(boxes), source=source))
    return result


def parse_yolo_labels(file: Path, names: tuple[str, ...]) -> tuple[list[Box], list[Issue]]:
    """Parse one label file: ``c cx cy w h`` boxes or ``c x1 y1 x2 y2 ...`` polygons."""
    boxes: list[Box] = []
    issues: list[Issue] = []
    for lineno, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"line {lineno}"
        try:
            cls, values = int(parts[0]), [float(v) for v in parts[1:]]
        except ValueError:
            issues.append(Issue(file, f"{where}: not numbers: {line.strip()!r}; box dropped"))
            continue
        if not 0 <= cls < len(names):
            issues.append(Issue(file, f"{where}: unknown class id {cls}; box dropped"))
            continue
        box = _line_box(names[cls], values)
        if box is None:
            msg = f"{where}: expected 4 box values or >= 3 polygon points, got {len(values)}"
            issues.append(Issue(file, msg + "; box dropped", Severity.ERROR))
            continue
        boxes.append(box)
    return boxes, issues


def _line_box(label: str, values: list[float]) -> Box | None:
    if len(values) == 4:
        cx, cy, w, h = values
        return Box(label, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    if len(values) >= 6 and len(values) % 2 == 0:
        return Box.from_points(label, values[0::2], values[1::2])
    return None


def load_dataset(root: Path) -> ImportResult:
    """Read a YOLO dataset written by Shirong (flat or split layout); sources come from its
    ``manifest.json`` where present, else from the split folder name."""
    result = import_yolo(root, root.name)
    manifest = root / "manifest.json"
    by_file: dict[str, str] = {}
    if manifest.is_file():
        by_file = {e["file"]: e["source"] for e in json.loads(manifest.read_text())["files"]}
    images_dir = root / "images"
    result.samples = [
        Sample(s.image, s.boxes, by_file.get(s.image.name) or _split_of(s.image, images_dir))
        for s in result.samples
    ]
    return result


def _split_of(image: Path, images_dir: Path) -> str:
    parts = image.relative_to(images_dir).parts
    return parts[0] if len(parts) > 1 else images_dir.parent.name
