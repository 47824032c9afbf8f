"""Fine-tune a YOLO checkpoint with Ultralytics, offline and reproducibly."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from detection.errors import ConfigError
from detection.extras import require
from detection.train.batchnorm import image_batches, recalibrate_identity_batchnorms
from detection.train.config import TrainConfig
from detection.train.evaluate import split_images

log = logging.getLogger(__name__)
CALIBRATION_IMAGES = 64
#: Written beside a run's weights: which dataset build it trains on, checked before a resume.
DATASET_STAMP = "dataset.json"


def pick_device(device: str) -> str:
    """'auto' → '0' when CUDA is available, else 'cpu'."""
    if device != "auto":
        return device
    torch = require("torch", "train")
    return "0" if torch.cuda.is_available() else "cpu"


def dataset_stamp(data: Path) -> dict[str, Any]:
    """The dataset build a data.yaml belongs to (name and labels digest of its manifest)."""
    manifest = data.parent / "manifest.json"
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"data": str(data), "labels_digest": None}
    return {"data": str(data), "name": doc.get("name"), "labels_digest": doc.get("labels_digest")}


def check_resume(run: Path, data: Path) -> Path:
    """The run's last.pt, refused when it trained on another dataset build (another recipe)."""
    last = run / "weights" / "last.pt"
    if not last.is_file():
        raise ConfigError(f"resume: no checkpoint {last}; train without 'resume' first")
    stamp = run / DATASET_STAMP
    before = json.loads(stamp.read_text(encoding="utf-8")) if stamp.is_file() else None
    now = dataset_stamp(data)
    if before is None or before.get("labels_digest") != now["labels_digest"]:
        was = before and f"{before.get('name')} ({before.get('labels_digest')})"
        raise ConfigError(
            f"resume: checkpoint {last} was trained on dataset {was or 'unknown'}, not on "
            f"{now.get('name')} ({now['labels_digest']}) from {data}; resuming would mix two "
            "recipes: start a new run name, or set 'resume: false'"
        )
    return last


def starting_weights(config: TrainConfig, run: Path) -> Path:
    """The base checkpoint, or one rebuilt from a released ONNX (``warm_start``)."""
    base = config.resolve(config.base)
    if not base.is_file():
        raise ConfigError(f"training config 'base' file not found: {base}")
    if config.warm_start is None:
        return base
    release = config.resolve(config.warm_start)
    if not release.is_file():
        raise ConfigError(f"training config 'warm_start' file not found: {release}")
    from detection.train.warm_start import warm_start

    return warm_start(release, base, run / "warm-start.pt")


def dataset(config: TrainConfig, cache_dir: Path = Path("data/.cache")) -> Path:
    """The config's data.yaml; a ``recipe`` is built first (deterministic, teachers from the
    cache), so new reviewer labels in its folders are always in."""
    if config.recipe is None:
        assert config.data is not None
        return config.resolve(config.data)
    from detection.data.recipe import build_recipe, resolve

    manifest = build_recipe(config.resolve(config.recipe), cache_dir=config.resolve(cache_dir))
    return resolve(Path(manifest["recipe"]["out"])) / "data.yaml"


def train(config: TrainConfig) -> Path:
    """Run training; returns the run folder (weights in ``weights/best.pt``)."""
    os.environ["YOLO_OFFLINE"] = "1"
    data = dataset(config)
    if not data.is_file():
        raise ConfigError(f"training config 'data' file not found: {data}")
    run = config.resolve(config.project) / config.name
    ultralytics = require("ultralytics", "train")
    if config.resume:
        last = check_resume(run, data)
        log.info("resuming %s", last)
        ultralytics.YOLO(str(last)).train(resume=True)
        return run
    base = starting_weights(config, run)
    model = ultralytics.YOLO(str(base))
    calibration = split_images(data, "train")[1][:CALIBRATION_IMAGES]
    changed = recalibrate_identity_batchnorms(model.model, image_batches(calibration, config.imgsz))
    log.info("batch norm: %d identity layers re-derived from %d images", changed, len(calibration))
    run.mkdir(parents=True, exist_ok=True)
    (run / DATASET_STAMP).write_text(json.dumps(dataset_stamp(data), indent=1), encoding="utf-8")
    device = pick_device(config.device)
    log.info("training %s on %s (device %s)", base.name, data, device)
    model.train(**_train_args(config, data, device))
    return run


def _train_args(config: TrainConfig, data: Path, device: str) -> dict[str, Any]:
    return dict(
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
        project=str(config.resolve(config.project)),
        name=config.name,
        exist_ok=True,
        workers=config.workers,
        cache=False if config.cache == "none" else config.cache,
        freeze=config.freeze or None,
        patience=config.patience,
        val=config.val,
        close_mosaic=config.close_mosaic,
        optimizer=config.optimizer,
        lr0=config.lr0 or 0.01,
        warmup_epochs=config.warmup_epochs,
        warmup_bias_lr=config.warmup_bias_lr,
        verbose=True,
    )
