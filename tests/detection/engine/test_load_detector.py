"""Which model runs when none is named, and ``load_detector`` over both backends."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from detection.engine import (
    MODEL_ENV,
    OnnxDetector,
    UltralyticsDetector,
    default_model_path,
    load_detector,
)
from detection.errors import ConfigError, ModelError


def layout(tmp_path: Path, default_txt: str | None, models: list[str], stand_in: bool) -> Path:
    """A fake checkout at tmp/repo with ../shared beside it; returns the repo root."""
    root = tmp_path / "repo"
    (root / "models").mkdir(parents=True)
    if default_txt is not None:
        (root / "models" / "default.txt").write_text(default_txt)
    for name in models:
        (root / "models" / name).mkdir()
        (root / "models" / name / "model.onnx").write_bytes(b"onnx")
    if stand_in:
        (tmp_path / "shared" / "weights").mkdir(parents=True)
        (tmp_path / "shared" / "weights" / "yolov8n-coco-int8.onnx").write_bytes(b"onnx")
    return root


STAND_IN = "shared/weights/yolov8n-coco-int8.onnx"


@pytest.mark.parametrize(
    ("default_txt", "models", "stand_in", "expected"),
    [
        ("shirong-v1\n", ["shirong-v1"], True, "repo/models/shirong-v1/model.onnx"),
        ("# released models\n\nshirong-v2\nshirong-v1  # fallback\n", ["shirong-v1"], True,
         "repo/models/shirong-v1/model.onnx"),
        ("shirong-v1\n", [], True, STAND_IN),  # listed but not released yet
        (None, ["shirong-v1"], True, STAND_IN),  # a folder alone is not a release
        ("", [], True, STAND_IN),
    ],
)  # fmt: skip
def test_resolution_order(
    tmp_path: Path, default_txt: str | None, models: list[str], stand_in: bool, expected: str
) -> None:
    root = layout(tmp_path, default_txt, models, stand_in)
    assert default_model_path(root, environ={}) == tmp_path / expected


def test_env_overrides_release(tmp_path: Path) -> None:
    root = layout(tmp_path, "shirong-v1", ["shirong-v1"], stand_in=True)
    mine = tmp_path / "mine.onnx"
    mine.write_bytes(b"onnx")
    assert default_model_path(root, environ={MODEL_ENV: str(mine)}) == mine


def test_env_naming_a_missing_file_is_an_error(tmp_path: Path) -> None:
    root = layout(tmp_path, "shirong-v1", ["shirong-v1"], stand_in=True)
    with pytest.raises(ModelError, match=r"\$SHIRONG_MODEL names a missing model file: .*gone"):
        default_model_path(root, environ={MODEL_ENV: str(tmp_path / "gone.onnx")})


def test_shared_env_moves_the_stand_in(tmp_path: Path) -> None:
    root = layout(tmp_path, None, [], stand_in=True)
    moved = tmp_path / "elsewhere"
    (tmp_path / "shared").rename(moved)
    found = default_model_path(root, environ={"SHIRONG_SHARED": str(moved)})
    assert found == moved / "weights" / "yolov8n-coco-int8.onnx"


def test_unreleased_listing_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = layout(tmp_path, "shirong-v1", [], stand_in=True)
    with caplog.at_level(logging.WARNING, logger="detection.engine"):
        default_model_path(root, environ={})
    assert "lists ['shirong-v1'] but none has a model.onnx" in caplog.text


@pytest.mark.parametrize(
    ("default_txt", "message"),
    [
        (None, r"default\.txt names no model, and the stand-in .* is absent"),
        ("shirong-v1", r"lists \['shirong-v1'\] without a model\.onnx"),
    ],
)
def test_nothing_found_explains_what_to_do(
    tmp_path: Path, default_txt: str | None, message: str
) -> None:
    root = layout(tmp_path, default_txt, [], stand_in=False)
    with pytest.raises(ModelError, match=message) as err:
        default_model_path(root, environ={})
    assert "write <name> into models/default.txt" in str(err.value)


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
