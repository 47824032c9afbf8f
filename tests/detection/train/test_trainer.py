"""`train()` really fine-tunes (one tiny epoch on a slice of the v1 recipe, from the shared base),
warm-starts from a release, and never resumes a run of another dataset build."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import yaml

from detection.data.recipe import build_recipe
from detection.engine import OnnxDetector
from detection.engine.compare import compare_detections
from detection.engine.torch_backend import UltralyticsDetector
from detection.errors import ConfigError
from detection.train.batchnorm import identity_batchnorms
from detection.train.config import TrainConfig
from detection.train.trainer import DATASET_STAMP, check_resume, starting_weights, train
from detection.train.warm_start import warm_start
from tests.conftest import COCO_PT, REPO, tiny_train_config, v1_slice_recipe


@pytest.mark.slow
@pytest.mark.shared_data
def test_one_epoch_writes_a_checkpoint_with_the_taxonomy_names(tmp_path: Path) -> None:
    ultralytics = pytest.importorskip("ultralytics")
    build_recipe(v1_slice_recipe(tmp_path, limit=4, split={"train": 0.5, "val": 0.5, "test": 0.0}))
    data = tmp_path / "v1" / "data.yaml"
    config = tiny_train_config(tmp_path, data, freeze=10, warmup_bias_lr=0.0)

    run = train(config)

    args = yaml.safe_load((run / "args.yaml").read_text(encoding="utf-8"))
    assert (args["device"], args["warmup_epochs"], args["warmup_bias_lr"]) == ("cpu", 0.0, 0.0)
    names = yaml.safe_load(data.read_text(encoding="utf-8"))["names"]
    model = ultralytics.YOLO(str(run / "weights" / "best.pt"))
    assert list(model.names.values()) == names
    # The shared base is BN-folded; even the frozen backbone leaves with real BN statistics.
    assert identity_batchnorms(model.model) == []


def _run_with_checkpoint(tmp_path: Path, digest: str | None) -> tuple[Path, Path]:
    """A run folder holding a last.pt and (optionally) the stamp of the dataset it trained on."""
    data = tmp_path / "data" / "data.yaml"
    data.parent.mkdir(parents=True)
    data.write_text("names: [a]\n")
    (data.parent / "manifest.json").write_text(json.dumps({"name": "v2", "labels_digest": "new"}))
    run = tmp_path / "runs" / "r"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "last.pt").write_bytes(b"checkpoint")
    if digest is not None:
        stamp = {"data": str(data), "name": "v1", "labels_digest": digest}
        (run / DATASET_STAMP).write_text(json.dumps(stamp))
    return run, data


@pytest.mark.parametrize(
    ("digest", "message"),
    [
        ("old", r"last\.pt was trained on dataset v1 \(old\), not on v2 \(new\).*mix two recipes"),
        (None, r"last\.pt was trained on dataset unknown"),
    ],
)
def test_resume_from_another_recipes_checkpoint_is_refused(
    tmp_path: Path, digest: str | None, message: str
) -> None:
    run, data = _run_with_checkpoint(tmp_path, digest)
    with pytest.raises(ConfigError, match=message):
        check_resume(run, data)


def test_resume_of_the_same_build_returns_last_and_a_missing_one_is_named(tmp_path: Path) -> None:
    run, data = _run_with_checkpoint(tmp_path, "new")
    assert check_resume(run, data) == run / "weights" / "last.pt"
    (run / "weights" / "last.pt").unlink()
    with pytest.raises(ConfigError, match=r"resume: no checkpoint .*last\.pt"):
        check_resume(run, data)


def test_missing_warm_start_release_is_named(tmp_path: Path) -> None:
    base = tmp_path / "base.pt"
    base.write_bytes(b"x")
    config = TrainConfig(
        name="r", data=tmp_path / "d.yaml", base=base, epochs=1, warm_start=tmp_path / "nope.onnx"
    )
    with pytest.raises(ConfigError, match=r"'warm_start' file not found: .*nope\.onnx"):
        starting_weights(config, tmp_path / "run")


@pytest.mark.slow
@pytest.mark.shared_data
def test_warm_start_computes_what_the_release_computes(tmp_path: Path, bus_jpg: Path) -> None:
    """The checkpoint rebuilt from the int8 release finds the release's boxes (int8 rounding)."""
    release = REPO / "models" / "shirong-v1.1" / "model.onnx"
    pt = warm_start(release, COCO_PT, tmp_path / "warm.pt")
    image = cv2.imread(str(bus_jpg))
    onnx_dets = OnnxDetector(release, conf=0.1).predict([image])[0]
    torch_dets = UltralyticsDetector(pt, conf=0.1, imgsz=416, rect=True).predict([image])[0]
    assert (onnx_dets.confidence >= 0.3).sum() >= 2
    agreement = compare_detections(onnx_dets, torch_dets, min_conf=0.3, min_iou=0.85)
    assert agreement.matched >= agreement.confident - 1, agreement
