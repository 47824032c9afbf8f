"""Training configs: the shipped configs load; mistakes name the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from detection.errors import ConfigError
from detection.resources import REPO_ROOT
from detection.train.config import TrainConfig, load_train_config
from detection.train.trainer import pick_device, train


def test_v1_config_loads() -> None:
    config = load_train_config(REPO_ROOT / "models" / "configs" / "v1.yaml")
    assert config.name == "shirong-v1" and config.imgsz % 32 == 0
    assert TrainConfig.resolve(config.data) == REPO_ROOT / "data" / "v1" / "data.yaml"


def test_v1_1_config_continues_from_the_v1_run() -> None:
    v1 = load_train_config(REPO_ROOT / "models" / "configs" / "v1.yaml")
    stage2 = load_train_config(REPO_ROOT / "models" / "configs" / "v1.1.yaml")
    assert stage2.base == v1.project / v1.name / "weights" / "best.pt"
    assert (stage2.data, stage2.freeze, stage2.warmup_bias_lr) == (v1.data, 0, 0.0)


def test_v2_config_trains_from_the_recipe_warm_started_from_the_v1_1_release() -> None:
    config = load_train_config(REPO_ROOT / "models" / "configs" / "v2.yaml")
    assert config.recipe == Path("datasets/v2.yaml") and config.data is None
    assert TrainConfig.resolve(config.warm_start).is_file()  # type: ignore[arg-type]
    assert (config.freeze, config.resume) == (0, False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\ndata: d.yaml\nbase: b.pt\nepochs: 0\n", "epochs"),
        ("name: x\ndata: d.yaml\nbase: b.pt\nepochs: 3\nimgsz: 500\n", "imgsz"),
        ("name: x\ndata: d.yaml\nbase: b.pt\nepochs: 3\nlr: 0.1\n", "lr"),
        ("name: x\ndata: d.yaml\nbase: b.pt\nepochs: 3\nwarmup_bias_lr: 1.5\n", "warmup_bias_lr"),
        ("name: x\ndata: d.yaml\nepochs: 3\n", "base"),
        ("name: x\nbase: b.pt\nepochs: 3\n", "exactly one of 'data'"),
        ("name: x\ndata: d.yaml\nrecipe: r.yaml\nbase: b.pt\nepochs: 3\n", "exactly one of 'data'"),
        ("name: x\ndata: d.yaml\nbase: b.pt\nepochs: 3\nresume: maybe\n", "resume"),
        ("name: [x\n", "cannot read"),
    ],
)
def test_bad_config(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "c.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_train_config(file)
    assert str(file) in str(err.value)


def test_missing_data_file_is_reported_before_training(tmp_path: Path) -> None:
    config = TrainConfig(name="x", data=tmp_path / "nope.yaml", base=tmp_path / "b.pt", epochs=1)
    with pytest.raises(ConfigError, match=r"'data' file not found: .*nope\.yaml"):
        train(config)


@pytest.mark.parametrize("device", ["cpu", "0", "cuda:1"])
def test_explicit_device_is_kept(device: str) -> None:
    assert pick_device(device) == device
