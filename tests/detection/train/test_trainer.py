"""`train()` really fine-tunes: one tiny epoch on a slice of the v1 recipe, from the shared base."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from detection.data.recipe import build_recipe
from detection.train.batchnorm import identity_batchnorms
from detection.train.config import TrainConfig
from detection.train.trainer import train
from tests.conftest import COCO_PT, v1_slice_recipe


@pytest.mark.slow
@pytest.mark.shared_data
def test_one_epoch_writes_a_checkpoint_with_the_taxonomy_names(tmp_path: Path) -> None:
    ultralytics = pytest.importorskip("ultralytics")
    build_recipe(v1_slice_recipe(tmp_path, limit=4, split={"train": 0.5, "val": 0.5, "test": 0.0}))
    data = tmp_path / "v1" / "data.yaml"
    config = TrainConfig(
        name="tiny",
        data=data,
        base=COCO_PT,
        project=tmp_path / "runs",
        epochs=1,
        imgsz=64,
        batch=4,
        workers=0,
        cache="none",
        freeze=10,
        warmup_epochs=0.0,
        warmup_bias_lr=0.0,
    )

    run = train(config)

    args = yaml.safe_load((run / "args.yaml").read_text(encoding="utf-8"))
    assert (args["device"], args["warmup_epochs"], args["warmup_bias_lr"]) == ("cpu", 0.0, 0.0)
    names = yaml.safe_load(data.read_text(encoding="utf-8"))["names"]
    model = ultralytics.YOLO(str(run / "weights" / "best.pt"))
    assert list(model.names.values()) == names
    # The shared base is BN-folded; even the frozen backbone leaves with real BN statistics.
    assert identity_batchnorms(model.model) == []
