"""Fine-tune a YOLO checkpoint with Ultralytics, offline and reproducibly."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from detection.errors import ConfigError
from detection.extras import require
from detection.train.batchnorm import image_batches, recalibrate_identity_batchnorms
from detection.train.config import TrainConfig
from detection.train.evaluate import split_images

log = logging.getLogger(__name__)
CALIBRATION_IMAGES = 64


def pick_device(device: str) -> str:
    """'auto' → '0' when CUDA is available, else 'cpu'."""
    if device != "auto":
        return device
    torch = require("torch", "train")
    return "0" if torch.cuda.is_available() else "cpu"


def train(config: TrainConfig) -> Path:
    """Run training; returns the run folder (weights in ``weights/best.pt``)."""
    os.environ["YOLO_OFFLINE"] = "1"
    data, base = config.resolve(config.data), config.resolve(config.base)
    for what, path in (("data", data), ("base", base)):
        if not path.is_file():
            raise ConfigError(f"training config '{what}' file not found: {path}")
    ultralytics = require("ultralytics", "train")
    device = pick_device(config.device)
    model = ultralytics.YOLO(str(base))
    calibration = split_images(data, "train")[1][:CALIBRATION_IMAGES]
    changed = recalibrate_identity_batchnorms(model.model, image_batches(calibration, config.imgsz))
    log.info("batch norm: %d identity layers re-derived from %d images", changed, len(calibration))
    project = config.resolve(config.project)
    log.info("training %s on %s (device %s)", base.name, data, device)
    model.train(
        data=str(data),
        epochs=config.epochs,
        time=config.time_hours,
        imgsz=config.imgsz,
        batch=config.batch,
        seed=config.seed,
        deterministic=True,
        plots=False,
        device=device,
        amp=device != "cpu",
        project=str(project),
        name=config.name,
        exist_ok=True,
        workers=config.workers,
        cache=False if config.cache == "none" else config.cache,
        freeze=config.freeze or None,
        patience=config.patience,
        close_mosaic=config.close_mosaic,
        optimizer=config.optimizer,
        lr0=config.lr0 or 0.01,
        warmup_epochs=config.warmup_epochs,
        warmup_bias_lr=config.warmup_bias_lr,
        verbose=True,
    )
    return project / config.name
