"""``shirong eval``: score a model (ONNX or .pt) on a dataset split with the numpy metrics.

Writes ``metrics.json`` (per-class P, R, mAP50, mAP50-95; teacher-labelled classes report recall
against the teacher's boxes), a confusion matrix and PR curves (PNG) and an error gallery.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from detection.core import Detections, box_iou
from detection.data.checks import load_bgr
from detection.data.yolo import image_files, label_path
from detection.errors import InputError
from detection.taxonomy import DataStatus, default_taxonomy
from detection.train.metrics import (
    ClassMetrics,
    FArr,
    class_metrics,
    greedy_pairs,
    match_predictions,
)

EVAL_CONF = 0.001  # score everything, like Ultralytics' validator
EVAL_IOU = 0.7  # NMS IoU during evaluation (Ultralytics' validator default)


@dataclass(frozen=True)
class GroundTruth:
    image: Path
    xyxy: FArr  # pixels
    cls: npt.NDArray[np.int64]


@dataclass(frozen=True)
class ErrorCase:
    image: Path
    xyxy: tuple[float, float, float, float]
    name: str
    score: float  # confidence (false positive) or box area (false negative)


@dataclass
class Accumulator:
    """Everything collected while predicting, so the model runs over the split once."""

    nc: int
    tp: list[npt.NDArray[np.bool_]] = field(default_factory=list)
    conf: list[FArr] = field(default_factory=list)
    pred_cls: list[npt.NDArray[np.int64]] = field(default_factory=list)
    n_gt: npt.NDArray[np.int64] = field(init=False)
    confusion: npt.NDArray[np.int64] = field(init=False)
    false_pos: list[ErrorCase] = field(default_factory=list)
    false_neg: list[ErrorCase] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.n_gt = np.zeros(self.nc, np.int64)
        self.confusion = np.zeros((self.nc + 1, self.nc + 1), np.int64)  # last: background


def split_images(data_yaml: Path, split: str) -> tuple[tuple[str, ...], list[Path]]:
    """Class names and the (sorted) image files of one split of a built dataset's data.yaml."""
    try:
        data = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
        names = tuple(data["names"])
        folder = Path(data.get("path") or data_yaml.parent) / data[split]
        if folder.suffix == ".txt":  # a list of image files (a learning-curve subset)
            lines = folder.read_text(encoding="utf-8").splitlines()
            return names, sorted(Path(line) for line in lines if line.strip())
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise InputError(f"{data_yaml}: cannot read split '{split}' and names: {exc}") from exc
    return names, image_files(folder)


def load_split(data_yaml: Path, split: str) -> tuple[tuple[str, ...], list[GroundTruth]]:
    """Dataset class names and ground truth (pixel boxes) of one split of a YOLO dataset."""
    names, images = split_images(data_yaml, split)
    images_dir = data_yaml.parent / "images"
    truths = []
    for image in images:
        h, w = _image_hw(image)
        rows = _label_rows(label_path(image, images_dir, data_yaml.parent / "labels"))
        xyxy = np.stack(
            [
                (rows[:, 1] - rows[:, 3] / 2) * w,
                (rows[:, 2] - rows[:, 4] / 2) * h,
                (rows[:, 1] + rows[:, 3] / 2) * w,
                (rows[:, 2] + rows[:, 4] / 2) * h,
            ],
            axis=1,
        )
        truths.append(GroundTruth(image, xyxy, rows[:, 0].astype(np.int64)))
    return names, truths


def _image_hw(image: Path) -> tuple[int, int]:
    array = load_bgr(image)
    if array is None:
        raise InputError(f"cannot read image {image}")
    return int(array.shape[0]), int(array.shape[1])


def _label_rows(file: Path) -> FArr:
    if not file.is_file() or not file.read_text().strip():
        return np.zeros((0, 5))
    return np.loadtxt(file, ndmin=2)[:, :5]


def to_dataset_ids(
    dets: Detections, names: Sequence[str]
) -> tuple[FArr, FArr, npt.NDArray[np.int64]]:
    """Boxes, scores and dataset class ids of the detections whose class the dataset knows."""
    index = {n: i for i, n in enumerate(names)}
    ids = np.array([index.get(n, -1) for n in dets.class_name], np.int64)
    keep = ids >= 0
    return dets.xyxy[keep].astype(np.float64), dets.confidence[keep].astype(np.float64), ids[keep]


def accumulate(
    acc: Accumulator, truth: GroundTruth, dets: Detections, names: Sequence[str], conf: float
) -> None:
    xyxy, scores, cls = to_dataset_ids(dets, names)
    order = np.argsort(-scores, kind="stable")
    xyxy, scores, cls = xyxy[order], scores[order], cls[order]
    iou = box_iou(xyxy, truth.xyxy)
    tp = match_predictions(cls, truth.cls, iou)
    acc.tp.append(tp)
    acc.conf.append(scores)
    acc.pred_cls.append(cls)
    np.add.at(acc.n_gt, truth.cls, 1)
    kept = scores >= conf
    _confusion(acc.confusion, cls[kept], truth.cls, iou[kept], acc.nc)
    for i in np.nonzero(kept & ~tp[:, 0])[0]:
        acc.false_pos.append(ErrorCase(truth.image, _t(xyxy[i]), names[cls[i]], float(scores[i])))
    found = np.zeros(len(truth.cls), bool)
    if kept.any() and len(truth.cls):
        same = cls[kept][:, None] == truth.cls[None, :]
        found[greedy_pairs(same & (iou[kept] >= 0.5), iou[kept], by_rank=True)[1]] = True
    for j in np.nonzero(~found)[0]:
        box = truth.xyxy[j]
        area = float((box[2] - box[0]) * (box[3] - box[1]))
        acc.false_neg.append(ErrorCase(truth.image, _t(box), names[truth.cls[j]], area))


def _t(box: FArr) -> tuple[float, float, float, float]:
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def _confusion(
    matrix: npt.NDArray[np.int64],
    pred_cls: npt.NDArray[np.int64],
    gt_cls: npt.NDArray[np.int64],
    iou: FArr,
    nc: int,
) -> None:
    """Class-agnostic greedy matching at IoU 0.45; rows = predicted, columns = true class."""
    p, g = greedy_pairs(iou >= 0.45, iou)
    np.add.at(matrix, (pred_cls[p], gt_cls[g]), 1)
    np.add.at(matrix[:, nc], np.delete(pred_cls, p), 1)  # predicted on background
    np.add.at(matrix[nc], np.delete(gt_cls, g), 1)  # missed


def summarise(acc: Accumulator, names: Sequence[str], conf: float) -> list[ClassMetrics]:
    tp = np.concatenate(acc.tp) if acc.tp else np.zeros((0, 10), bool)
    scores = np.concatenate(acc.conf) if acc.conf else np.zeros(0)
    cls = np.concatenate(acc.pred_cls) if acc.pred_cls else np.zeros(0, np.int64)
    return [
        class_metrics(name, tp[cls == c], scores[cls == c], int(acc.n_gt[c]), conf)
        for c, name in enumerate(names)
    ]


def report(
    per_class: list[ClassMetrics], model: Path, data: Path, split: str, images: int
) -> dict[str, Any]:
    """The JSON document: per-class metrics (classes with test instances), means and references."""
    taxonomy = default_taxonomy()
    teacher = set(taxonomy.with_status(DataStatus.TEACHER_ONLY))
    present = [m for m in per_class if m.instances > 0]
    human = [m for m in present if m.name not in teacher]
    rows = {
        m.name: {**_clean(asdict(m)), "reference": "teacher" if m.name in teacher else "human"}
        for m in present
    }
    return {
        "model": str(model),
        "data": str(data),
        "split": split,
        "images": images,
        "mAP50": _mean([m.ap50 for m in present]),
        "mAP50_95": _mean([m.ap50_95 for m in present]),
        "mAP50_human_labelled": _mean([m.ap50 for m in human]),
        "classes": rows,
        "false_positive_only": {
            m.name: m.predictions for m in per_class if m.instances == 0 and m.predictions
        },
    }


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (round(v, 4) if isinstance(v, float) and not math.isnan(v) else v)
        for k, v in row.items()
    }


def _mean(values: list[float]) -> float:
    return round(float(np.mean(values)), 4) if values else float("nan")


def format_table(doc: dict[str, Any]) -> str:
    lines = [f"{'class':<14}{'ref':>8}{'inst':>7}{'P':>8}{'R':>8}{'mAP50':>8}{'50-95':>8}"]
    for name, m in doc["classes"].items():
        lines.append(
            f"{name:<14}{m['reference']:>8}{m['instances']:>7}{m['precision']:>8.3f}"
            f"{m['recall']:>8.3f}{m['ap50']:>8.3f}{m['ap50_95']:>8.3f}"
        )
    lines.append(
        f"{'all':<14}{'':>8}{'':>7}{'':>8}{'':>8}{doc['mAP50']:>8.3f}{doc['mAP50_95']:>8.3f}"
    )
    return "\n".join(lines)


def write_json(doc: dict[str, Any], file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(doc, indent=1, allow_nan=True), encoding="utf-8")


@dataclass(frozen=True)
class EvalRun:
    doc: dict[str, Any]
    acc: Accumulator
    names: tuple[str, ...]


def evaluate_model(
    model: Path,
    data_yaml: Path,
    split: str = "test",
    conf: float = 0.25,
    imgsz: int | None = None,
    limit: int | None = None,
) -> EvalRun:
    """Predict a split with ``model`` (.onnx: ONNX Runtime, .pt: Ultralytics) and score it."""
    from detection.engine import load_detector

    detector = load_detector(
        model,
        backend="ultralytics" if model.suffix == ".pt" else "onnx",
        conf=EVAL_CONF,
        iou=EVAL_IOU,
        imgsz=imgsz,
    )
    names, truths = load_split(data_yaml, split)
    if limit:  # an even spread, so a slice still covers every source
        truths = truths[:: max(len(truths) // limit, 1)][:limit]
    acc = Accumulator(len(names))
    for truth in truths:
        image = load_bgr(truth.image)
        assert image is not None  # load_split read it
        accumulate(acc, truth, detector.predict([image])[0], names, conf)
    per_class = summarise(acc, names, conf)
    return EvalRun(report(per_class, model, data_yaml, split, len(truths)), acc, names)


def write_outputs(run: EvalRun, out: Path) -> dict[str, Path]:
    """metrics.json, confusion_matrix.png, pr_curves.png, errors_fp.png, errors_fn.png."""
    from detection.train.plots import error_gallery, plot_confusion, plot_pr_curves

    out.mkdir(parents=True, exist_ok=True)
    write_json(run.doc, out / "metrics.json")
    return {
        "metrics": out / "metrics.json",
        "confusion": plot_confusion(run.acc, run.names, out / "confusion_matrix.png"),
        "pr": plot_pr_curves(run.acc, run.names, out / "pr_curves.png"),
        "fp": error_gallery(run.acc.false_pos, out / "errors_fp.png", "worst false positives"),
        "fn": error_gallery(run.acc.false_neg, out / "errors_fn.png", "missed boxes (largest)"),
    }
