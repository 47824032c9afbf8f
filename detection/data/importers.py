"""Importer registry: annotation format → function(path, source, images) → ImportResult."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from detection.data.formats import (
    import_coco,
    import_cvat,
    import_labelme,
    import_labelstudio,
    import_voc,
)
from detection.data.samples import ImportResult
from detection.data.yolo import import_yolo

Format = Literal["yolo", "coco", "voc", "labelme", "labelstudio", "cvat"]
Importer = Callable[[Path, str, Path | None], ImportResult]


def _yolo(path: Path, source: str, images: Path | None) -> ImportResult:
    return import_yolo(path, source)


IMPORTERS: dict[str, Importer] = {
    "yolo": _yolo,
    "coco": import_coco,
    "voc": import_voc,
    "labelme": import_labelme,
    "labelstudio": import_labelstudio,
    "cvat": import_cvat,
}
