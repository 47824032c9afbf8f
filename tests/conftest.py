"""Shared fixtures. Tests needing ../shared are marked ``shared_data`` and skip where absent."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

os.environ.setdefault("YOLO_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHIRONG_SHARED", REPO.parent / "shared"))
COCO_INT8 = SHARED / "weights" / "yolov8n-coco-int8.onnx"
COCO_PT = SHARED / "weights" / "yolov8n-coco.pt"
VTEST = SHARED / "videos" / "vtest.avi"

# The bound on every wait for an event (a stream online, a job done, a worker restarted). Generous:
# on a loaded machine (CI beside other work, two cores) worker start-up, stream opens and model
# loads take many times longer than alone, and a wait whose event comes ends at once anyway.
WAIT_S = 240.0

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    what: str | Callable[[], str],
    timeout_s: float = WAIT_S,
    poll_s: float = 0.05,
) -> T:
    """Poll ``predicate`` until it returns a true value, and return that value; after
    ``timeout_s`` fail the test saying what was awaited (``what``, or what it returns then:
    e.g. the last status seen)."""
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        if time.monotonic() > deadline:
            awaited = what if isinstance(what, str) else what()
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {awaited}")
        time.sleep(poll_s)
    return value


def released_model() -> Path:
    """The released disorder model: the first model of the default set, ``models/default.yaml``."""
    from detection.engine import model_files

    return model_files(REPO / "models" / "default.yaml")[0]


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
    """The real v1 recipe on ``limit`` images per ../shared source, building into ``folder/v1``."""
    return slice_recipe("v1", folder, limit, **overrides)


def slice_recipe(name: str, folder: Path, limit: int, **overrides: Any) -> Path:
    """A real recipe (``datasets/NAME.yaml``) on ``limit`` images per ../shared source, building
    into ``folder/NAME``; its teachers are read from ../shared/weights wherever that is.

    ``overrides`` replace top-level recipe keys.
    """
    doc = yaml.safe_load((REPO / "datasets" / f"{name}.yaml").read_text(encoding="utf-8"))
    doc.update(out=str(folder / name), **overrides)
    for teacher in doc["teachers"]:
        teacher["model"] = str(SHARED / "weights" / Path(teacher["model"]).name)
    for source in doc["sources"]:
        source["path"] = str(SHARED / "data" / Path(source["path"]).name)
        source["limit"] = limit
    recipe = folder / f"{name}-slice.yaml"
    recipe.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return recipe


def tiny_train_config(folder: Path, data: Path, **overrides: Any) -> Any:
    """One CPU epoch at 64 px from the shared base: a real but seconds-long training run."""
    from detection.train.config import TrainConfig

    settings: dict[str, Any] = dict(
        name="tiny",
        data=data,
        base=COCO_PT,
        project=folder / "runs",
        epochs=1,
        imgsz=64,
        batch=4,
        workers=0,
        cache="none",
        warmup_epochs=0.0,
    )
    return TrainConfig(**(settings | overrides))
