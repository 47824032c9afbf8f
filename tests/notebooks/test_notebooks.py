"""The notebooks run top to bottom, offline, on a slice of a freshly built v1 dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from detection.data.recipe import build_recipe
from tests.conftest import REPO, released_model, v1_slice_recipe

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
RELEASED = released_model()


@pytest.fixture(scope="module")
def v1_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("nb")
    build_recipe(v1_slice_recipe(tmp, limit=20))
    return tmp / "v1"


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["01_dataset_overview", "02_model_evaluation"])
def test_notebook_runs(name: str, v1_slice: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if name.startswith("02") and not RELEASED.is_file():
        pytest.fail(f"{RELEASED} is missing: release a model first (see models/README.md)")
    monkeypatch.setenv("SHIRONG_DATA", str(v1_slice))
    monkeypatch.setenv("SHIRONG_NB_SLICE", "20")
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    notebook = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    client.execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
