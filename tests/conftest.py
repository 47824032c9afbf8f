"""Shared fixtures. Tests needing ../shared are marked ``shared_data`` and skip where absent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("YOLO_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHIRONG_SHARED", REPO.parent / "shared"))
COCO_INT8 = SHARED / "weights" / "yolov8n-coco-int8.onnx"
COCO_PT = SHARED / "weights" / "yolov8n-coco.pt"
VTEST = SHARED / "videos" / "vtest.avi"


def released_model() -> Path:
    """``models/<name>/model.onnx`` for the first model ``models/default.txt`` releases."""
    from detection.engine import listed_models

    names = listed_models(REPO / "models" / "default.txt")
    assert names, "models/default.txt names no released model"
    return REPO / "models" / names[0] / "model.onnx"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason=f"needs ../shared (data, weights, videos), absent at {SHARED}")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def bus_jpg() -> Path:
    """A street photo shipped inside the ultralytics package (no download)."""
    ultralytics = pytest.importorskip("ultralytics")
    return Path(ultralytics.__file__).parent / "assets" / "bus.jpg"


def v1_slice_recipe(folder: Path, limit: int, **overrides: Any) -> Path:
    """The real v1 recipe on ``limit`` images per ../shared source, building into ``folder/v1``.

    The teacher is the shared COCO model; ``overrides`` replace top-level recipe keys.
    """
    doc = yaml.safe_load((REPO / "datasets" / "v1.yaml").read_text(encoding="utf-8"))
    doc.update(out=str(folder / "v1"), **overrides)
    doc["teachers"][0]["model"] = str(COCO_INT8)
    for source in doc["sources"]:
        source["path"] = str(SHARED / "data" / Path(source["path"]).name)
        source["limit"] = limit
    recipe = folder / "v1-slice.yaml"
    recipe.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return recipe
