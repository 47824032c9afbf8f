"""The service's workers (cameras, photos, dashcam jobs, Ray actors) build their detector through
``LazyDetector``, which opens the default set when no model is configured, one model otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from detection.engine import DetectorSet, OnnxDetector
from detection.errors import ModelError
from serving.services.analysis import LazyDetector, check_model
from tests.conftest import REPO


def test_no_configured_model_runs_the_default_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIRONG_MODEL", raising=False)
    detector = LazyDetector(None, threads=1)
    assert {"dog", "graffiti", "couch"} <= set(detector.names)
    assert isinstance(detector._loaded(), DetectorSet)


def test_a_configured_model_runs_alone() -> None:
    path = REPO / "models" / "shirong-v2" / "model.onnx"
    assert isinstance(LazyDetector(path, threads=1)._loaded(), OnnxDetector)


def test_a_set_naming_a_missing_model_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    bad = tmp_path / "set.yaml"
    bad.write_text("models: [{name: a, path: gone.onnx, classes: {dog: {floor: 0.3}}}]\n")
    with pytest.raises(ModelError, match=r"set\.yaml: model 'a' names a missing file gone\.onnx"):
        check_model(bad)
