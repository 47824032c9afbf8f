"""NMS tables, plus agreement with torchvision's batched NMS on random boxes."""

from __future__ import annotations

import numpy as np
import pytest

from detection.engine.nms import batched_nms, nms

A = [0, 0, 10, 10]
A_SHIFTED = [1, 0, 11, 10]  # IoU with A: 90 / 110
A_RIGHT_HALF = [5, 0, 15, 10]  # IoU with A: 50 / 150
FAR = [50, 50, 60, 60]


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "iou", "kept"),
    [
        ([A, A_SHIFTED], [0.9, 0.8], [0, 0], 0.45, [0]),  # same class overlap: suppressed
        ([A, A_SHIFTED], [0.8, 0.9], [0, 0], 0.45, [1]),  # the better score wins
        ([A, A_SHIFTED], [0.9, 0.8], [0, 1], 0.45, [0, 1]),  # different classes: both kept
        ([A, A_SHIFTED], [0.9, 0.8], [0, 0], 0.9, [0, 1]),  # IoU 0.82 under threshold
        ([A, A_RIGHT_HALF], [0.9, 0.8], [0, 0], 50 / 150, [0, 1]),  # equal to threshold: kept
        ([A, FAR], [0.5, 0.9], [3, 3], 0.45, [1, 0]),  # no overlap: all kept, best first
        # chain: A suppresses the middle box, which then cannot suppress the third
        ([A, [4, 0, 14, 10], [8, 0, 18, 10]], [0.9, 0.8, 0.7], [0, 0, 0], 0.3, [0, 2]),
        (np.zeros((0, 4)), [], [], 0.45, []),  # empty input
    ],
)
def test_batched_nms(boxes: list, scores: list, classes: list, iou: float, kept: list[int]) -> None:
    assert batched_nms(boxes, scores, classes, iou).tolist() == kept


def test_plain_nms_ignores_classes() -> None:
    assert nms([A, A_SHIFTED], [0.9, 0.8], 0.45).tolist() == [0]


@pytest.mark.parametrize(("max_keep", "kept"), [(None, [2, 0, 1]), (2, [2, 0]), (1, [2])])
def test_max_keep_stops_after_the_best(max_keep: int | None, kept: list[int]) -> None:
    boxes, scores = [A, FAR, A_RIGHT_HALF], [0.5, 0.4, 0.9]  # IoU(A, right half) 1/3 < 0.45
    assert batched_nms(boxes, scores, [0, 0, 0], 0.45, max_keep=max_keep).tolist() == kept


def test_matches_torchvision_on_random_boxes() -> None:
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 600, (400, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 120, (400, 2))], axis=1).astype(np.float32)
    scores = rng.permutation(400).astype(np.float32) / 400  # distinct: no tie-order ambiguity
    classes = rng.integers(0, 5, 400)
    expected = ops.batched_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(classes), 0.45
    )
    assert batched_nms(boxes, scores, classes, 0.45).tolist() == expected.tolist()
