"""Metric maths on hand-made cases (matching, AP, per-class P/R)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detection.train.metrics import (
    IOU_THRESHOLDS,
    average_precision,
    class_metrics,
    match_predictions,
)


@pytest.mark.parametrize(
    ("pred_cls", "gt_cls", "iou", "tp50", "tp_all"),
    [
        # one perfect match
        ([0], [0], [[1.0]], [True], [True] * 10),
        # wrong class never matches
        ([1], [0], [[1.0]], [False], [False] * 10),
        # IoU 0.6: TP at 0.5 and 0.55, not above
        ([0], [0], [[0.6]], [True], [True, True, True] + [False] * 7),
        # two predictions on one box: the more confident (listed first) is the TP
        ([0, 0], [0], [[0.7], [0.9]], [True, False], None),
        # ... unless it is below the threshold
        ([0, 0], [0], [[0.4], [0.9]], [False, True], None),
        # one prediction, two boxes: used once
        ([0], [0, 0], [[0.8, 0.9]], [True], None),
    ],
)
def test_match_predictions(
    pred_cls: list[int],
    gt_cls: list[int],
    iou: list[list[float]],
    tp50: list[bool],
    tp_all: list[bool] | None,
) -> None:
    tp = match_predictions(pred_cls, gt_cls, np.array(iou))
    assert tp[:, 0].tolist() == tp50
    if tp_all is not None:
        assert tp[0].tolist() == tp_all


def test_match_with_no_ground_truth_or_no_predictions() -> None:
    assert match_predictions([0, 1], [], np.zeros((2, 0))).shape == (2, 10)
    assert not match_predictions([0, 1], [], np.zeros((2, 0))).any()
    assert match_predictions([], [0], np.zeros((0, 1))).shape == (0, 10)


@pytest.mark.parametrize(
    ("recall", "precision", "ap"),
    [
        ([1.0], [1.0], 1.0),  # one detection, one box: perfect
        ([0.5, 1.0], [1.0, 1.0], 1.0),
        ([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3], 0.5 * 1.0 + 0.5 * 2 / 3),  # envelope
        # half the boxes never found: like Ultralytics, the curve closes linearly to (1, 0)
        ([0.5], [1.0], 0.75),
        ([0.0], [0.0], 0.0),
    ],
)
def test_average_precision(recall: list[float], precision: list[float], ap: float) -> None:
    # 101-point sampling with trapezoids around the recall step gives ~1/100 resolution
    assert average_precision(np.array(recall), np.array(precision)) == pytest.approx(ap, abs=0.011)


def test_class_metrics_ranks_by_confidence_and_reports_operating_point() -> None:
    # 3 ground-truth boxes; predictions (conf, TP at all thresholds?)
    conf = np.array([0.9, 0.8, 0.3, 0.1])
    tp = np.zeros((4, len(IOU_THRESHOLDS)), bool)
    tp[0, :] = True  # perfect
    tp[2, :5] = True  # TP up to IoU 0.7
    m = class_metrics("x", tp, conf, n_gt=3, operating_conf=0.25)
    assert (m.instances, m.predictions) == (3, 3)
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(2 / 3)
    # AP50: envelope 1.0 to recall 1/3, 2/3 to recall 2/3; the last (false) detection leaves
    # precision 1/2 at recall 2/3, from where the curve closes linearly to (1, 0)
    assert m.ap50 == pytest.approx(1 / 3 + (1 / 3) * (2 / 3) + (1 / 3) * (1 / 2) / 2, abs=0.01)
    assert m.ap50_95 < m.ap50


def test_class_without_ground_truth() -> None:
    m = class_metrics("x", np.zeros((2, 10), bool), np.array([0.9, 0.1]), 0, 0.25)
    assert (m.instances, m.predictions, m.precision) == (0, 1, 0.0)
    assert math.isnan(m.ap50) and math.isnan(m.recall)
    empty = class_metrics("x", np.zeros((0, 10), bool), np.zeros(0), 0, 0.25)
    assert math.isnan(empty.precision)


def test_class_with_ground_truth_but_no_predictions() -> None:
    m = class_metrics("x", np.zeros((0, 10), bool), np.zeros(0), 4, 0.25)
    assert (m.precision, m.recall, m.ap50, m.ap50_95) == (0.0, 0.0, 0.0, 0.0)
