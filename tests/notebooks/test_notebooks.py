"""The notebooks run top to bottom, offline, on a slice of a freshly built dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from detection.data.recipe import build_recipe
from tests.conftest import REPO, released_model, slice_recipe, v1_slice_recipe

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
RELEASED = released_model()


@pytest.fixture(scope="module")
def v1_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("nb")
    build_recipe(v1_slice_recipe(tmp, limit=20))
    return tmp / "v1"


def _execute(name: str) -> list[Any]:
    notebook = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    client.execute()
    return [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["01_dataset_overview", "02_model_evaluation"])
def test_notebook_runs(name: str, v1_slice: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if name.startswith("02") and not RELEASED.is_file():
        pytest.fail(f"{RELEASED} is missing: release a model first (see models/README.md)")
    monkeypatch.setenv("SHIRONG_DATA", str(v1_slice))
    monkeypatch.setenv("SHIRONG_NB_SLICE", "20")
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    assert _execute(name) == []


@pytest.mark.slow
@pytest.mark.shared_data
def test_learning_curve_notebook_runs_on_a_slice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_recipe(slice_recipe("v2", tmp_path, limit=16), cache_dir=tmp_path / "cache")
    monkeypatch.setenv("SHIRONG_DATA", str(tmp_path / "v2"))
    monkeypatch.setenv("SHIRONG_NB_SLICE", "1")
    monkeypatch.setenv("SHIRONG_NB_WORK", str(tmp_path / "curve"))
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    assert _execute("03_learning_curve") == []
    points = json.loads((tmp_path / "curve" / "points.json").read_text(encoding="utf-8"))
    assert {(p["cls"], p["images"]) for p in points} == {
        (c, n) for c in ("traffic_cone", "dog_waste") for n in (2, 4)
    }
    assert (tmp_path / "curve" / "learning_curve.png").is_file()
