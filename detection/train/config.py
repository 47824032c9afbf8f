"""Training configuration (``models/configs/*.yaml``), validated with Pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detection.errors import LISTED, ConfigError, validation_message
from detection.resources import REPO_ROOT


class TrainConfig(BaseModel):
    """Fine-tuning settings; relative paths are resolved against the repository root."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$", description="Run name (folder under project).")
    data: Path | None = Field(
        None, description="data.yaml of a dataset built by 'shirong data build' (or 'recipe')."
    )
    recipe: Path | None = Field(
        None,
        description="A dataset recipe instead of 'data': built first (teachers from the cache) "
        "unless its build is current, so one command goes from recipe to weights.",
    )
    base: Path = Field(
        description="Base checkpoint (.pt). Offline: ../shared/weights/yolov8n-coco.pt; elsewhere "
        "an official Ultralytics checkpoint path. With 'warm_start', only its architecture is used."
    )
    warm_start: Path | None = Field(
        None,
        description="A released model.onnx to continue from: its weights are rebuilt into 'base's "
        "architecture (runs are not kept between machines, releases are).",
    )
    resume: bool = Field(
        False,
        description="Continue the run's own weights/last.pt (same dataset build only), e.g. after "
        "the time budget of a session ran out.",
    )
    project: Path = Field(Path("runs/train"), description="Folder that holds the run folders.")
    epochs: int = Field(ge=1, le=1000, description="Training epochs.")
    time_hours: float | None = Field(
        None,
        gt=0.0,
        le=48.0,
        description="Wall-clock budget; when set, Ultralytics sizes the epoch count (and the LR "
        "schedule) to it after the first epoch, overriding 'epochs'.",
    )
    imgsz: int = Field(416, ge=64, le=2048, multiple_of=32, description="Train/val image size.")
    batch: int = Field(16, ge=1, le=512, description="Batch size.")
    seed: int = Field(0, ge=0, description="Random seed (with deterministic=True).")
    freeze: int = Field(
        0, ge=0, le=22, description="Freeze the first N model layers (10 = backbone)."
    )
    workers: int = Field(2, ge=0, le=64, description="Data-loader worker processes.")
    cache: Literal["ram", "disk", "none"] = Field("ram", description="Image cache for training.")
    device: str = Field("auto", description="'auto' (cuda if available, else cpu), 'cpu' or '0'.")
    val: bool = Field(
        True, description="Validate after every epoch; false: only after the last (study runs)."
    )
    patience: int = Field(50, ge=0, le=1000, description="Early-stopping patience in epochs.")
    close_mosaic: int = Field(2, ge=0, le=100, description="Last epochs trained without mosaic.")
    lr0: float | None = Field(
        None, gt=0.0, lt=1.0, description="Initial learning rate (None: auto)."
    )
    optimizer: Literal["auto", "SGD", "AdamW"] = Field("auto", description="Optimizer.")
    warmup_epochs: float = Field(3.0, ge=0.0, le=20.0, description="LR warm-up epochs (0: none).")
    warmup_bias_lr: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="Bias LR at the start of warm-up; 0 when resuming from a trained run, where "
        "Ultralytics' 0.1 (meant for SGD from COCO) throws AdamW biases far off.",
    )

    @model_validator(mode="after")
    def _one_dataset(self) -> TrainConfig:
        if (self.data is None) == (self.recipe is None):
            raise ValueError("give exactly one of 'data' (a built data.yaml) or 'recipe'")
        return self

    @staticmethod
    def resolve(path: Path) -> Path:
        return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def load_train_config(file: Path) -> TrainConfig:
    try:
        return TrainConfig.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read training config {file}: {exc}") from exc
    except ValidationError as exc:
        problems = validation_message(exc, layout=LISTED)
        raise ConfigError(f"invalid training config {file}:\n{problems}") from exc
