"""What runs when no model is named (the default set), and ``load_detector`` over both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from detection.engine import (
    MODEL_ENV,
    DetectorSet,
    OnnxDetector,
    UltralyticsDetector,
    default_detection,
    load_detector,
)
from detection.errors import ConfigError, ModelError


def layout(tmp_path: Path, set_file: bool) -> Path:
    """A fake checkout at tmp/repo, with or without its default set file; returns the root."""
    root = tmp_path / "repo"
    (root / "models").mkdir(parents=True)
    if set_file:
        (root / "models" / "default.yaml").write_text("models: []\n")
    return root


def test_the_default_is_the_set_file(tmp_path: Path) -> None:
    root = layout(tmp_path, set_file=True)
    assert default_detection(root, environ={}) == root / "models" / "default.yaml"


def test_env_overrides_the_set(tmp_path: Path) -> None:
    root = layout(tmp_path, set_file=True)
    mine = tmp_path / "mine.onnx"
    mine.write_bytes(b"onnx")
    assert default_detection(root, environ={MODEL_ENV: str(mine)}) == mine


def test_env_naming_a_missing_file_is_an_error(tmp_path: Path) -> None:
    root = layout(tmp_path, set_file=True)
    with pytest.raises(ModelError, match=r"\$SHIRONG_MODEL names a missing model file: .*gone"):
        default_detection(root, environ={MODEL_ENV: str(tmp_path / "gone.onnx")})


def test_no_set_file_explains_what_to_do(tmp_path: Path) -> None:
    root = layout(tmp_path, set_file=False)
    with pytest.raises(ModelError, match=r"the default set .*default\.yaml is absent") as err:
        default_detection(root, environ={})
    assert "set SHIRONG_MODEL=/path/to/model.onnx" in str(err.value)


def test_the_checkout_runs_its_default_set() -> None:
    detector = load_detector(conf=0.1)
    assert isinstance(detector, DetectorSet)
    assert [m.name for m in detector.spec.models] == ["shirong-v2", "coco-context"]


def test_load_detector_uses_the_default_model(make_model, monkeypatch) -> None:
    path = make_model()
    monkeypatch.setenv(MODEL_ENV, str(path))
    detector = load_detector(conf=0.5)
    assert isinstance(detector, OnnxDetector)
    assert detector.path == path and detector.options.conf == 0.5


def test_load_detector_rejects_unknown_backend(make_model) -> None:
    with pytest.raises(ConfigError, match="unknown detector backend 'tensorrt'"):
        load_detector(make_model(), backend="tensorrt")  # type: ignore[arg-type]


def test_ultralytics_backend_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model file not found: .*nope\.pt"):
        load_detector(tmp_path / "nope.pt", backend="ultralytics")
    pytest.importorskip("ultralytics")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=r"cannot load Ultralytics model .*corrupt\.pt"):
        UltralyticsDetector(corrupt)
