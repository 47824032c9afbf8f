"""Detection metrics in plain numpy, so any model (ONNX included) can be scored the same way.

Matching follows Ultralytics' validator (per IoU threshold: same-class pairs; each prediction
takes its best-IoU box, each box its most confident prediction) and AP is the area under the
monotone precision envelope sampled at 101 recall points (COCO), so numbers agree with ``yolo val``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
FArr = npt.NDArray[np.float64]


def greedy_pairs(
    candidates: npt.NDArray[np.bool_], iou: FArr, by_rank: bool = False
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """One-to-one (pred, gt) pairs among ``candidates``: each prediction takes its highest-IoU
    box, then each box keeps one prediction: the highest-IoU one, or with ``by_rank`` the first
    in input order (predictions sorted by confidence: the most confident wins, as in COCO and
    Ultralytics' validator)."""
    p, g = np.nonzero(candidates)
    if not len(p):
        return p, g
    order = np.argsort(-iou[p, g], kind="stable")
    p, g = p[order], g[order]
    best = np.sort(np.unique(p, return_index=True)[1])
    p, g = p[best], g[best]
    if by_rank:
        order = np.argsort(p, kind="stable")
        p, g = p[order], g[order]
    first = np.unique(g, return_index=True)[1]
    return p[first], g[first]


def match_predictions(
    pred_cls: npt.ArrayLike,
    gt_cls: npt.ArrayLike,
    iou: FArr,
    thresholds: FArr = IOU_THRESHOLDS,
) -> npt.NDArray[np.bool_]:
    """True-positive matrix (n_pred × n_thresholds) for one image; ``iou`` is pred × gt and
    predictions are in descending confidence order."""
    pred_cls, gt_cls = np.asarray(pred_cls), np.asarray(gt_cls)
    tp = np.zeros((len(pred_cls), len(thresholds)), bool)
    if not len(pred_cls) or not len(gt_cls):
        return tp
    same = pred_cls[:, None] == gt_cls[None, :]
    for t, threshold in enumerate(thresholds):
        tp[greedy_pairs(same & (iou >= threshold), iou, by_rank=True)[0], t] = True
    return tp


def average_precision(recall: FArr, precision: FArr) -> float:
    """Area under the precision envelope, sampled at 101 recall points (COCO)."""
    r = np.concatenate(([0.0], recall, [1.0]))
    p = np.concatenate(([1.0], precision, [0.0]))
    p = np.flip(np.maximum.accumulate(np.flip(p)))
    x = np.linspace(0, 1, 101)
    return float(np.trapezoid(np.interp(x, r, p), x))


@dataclass(frozen=True)
class ClassMetrics:
    """Per-class results; ``precision``/``recall`` are at the operating confidence ``conf``."""

    name: str
    instances: int
    predictions: int
    precision: float
    recall: float
    ap50: float
    ap50_95: float


def class_metrics(
    name: str,
    tp: npt.NDArray[np.bool_],
    conf: FArr,
    n_gt: int,
    operating_conf: float,
) -> ClassMetrics:
    """Metrics of one class from its predictions' TP matrix and confidences over a dataset."""
    if n_gt == 0:
        fp = int((conf >= operating_conf).sum())
        return ClassMetrics(
            name, 0, fp, 0.0 if fp else float("nan"), float("nan"), float("nan"), float("nan")
        )
    order = np.argsort(-conf, kind="stable")
    tp, conf = tp[order], conf[order]
    tpc = tp.cumsum(axis=0)
    fpc = (~tp).cumsum(axis=0)
    recall = tpc / n_gt
    precision = tpc / np.maximum(tpc + fpc, 1)
    aps = (
        [average_precision(recall[:, t], precision[:, t]) for t in range(tp.shape[1])]
        if len(tp)
        else [0.0] * tp.shape[1]
    )
    kept = conf >= operating_conf
    n_kept = int(kept.sum())
    hits = int(tp[kept, 0].sum())
    return ClassMetrics(
        name=name,
        instances=n_gt,
        predictions=n_kept,
        precision=hits / n_kept if n_kept else 0.0,
        recall=hits / n_gt,
        ap50=aps[0],
        ap50_95=float(np.mean(aps)),
    )
