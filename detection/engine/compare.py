"""Box parity between two detectors' outputs: does an export (or a quantised model) agree with
its reference? Used by the parity tests and the detection benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detection.core import Detections, box_iou


@dataclass(frozen=True)
class Agreement:
    """How many confident boxes (of either side) the other side reproduces.

    A confident box counts as matched when the other side has a box of the same class name with
    IoU >= the threshold (at any confidence, so a score straddling the cut is not a miss).
    ``worst_iou`` is the lowest best-IoU over confident boxes (1.0 when there are none).
    """

    confident: int
    matched: int
    worst_iou: float

    @property
    def all_matched(self) -> bool:
        return self.matched == self.confident

    def __add__(self, other: Agreement) -> Agreement:
        return Agreement(
            self.confident + other.confident,
            self.matched + other.matched,
            min(self.worst_iou, other.worst_iou),
        )


def _one_way(a: Detections, b: Detections, min_conf: float, min_iou: float) -> Agreement:
    confident = a[a.confidence >= min_conf]
    if not len(confident):
        return Agreement(0, 0, 1.0)
    same_class = np.asarray(confident.class_name)[:, None] == np.asarray(b.class_name)[None, :]
    best = np.where(same_class, box_iou(confident.xyxy, b.xyxy), 0.0).max(axis=1, initial=0.0)
    return Agreement(len(confident), int((best >= min_iou).sum()), float(best.min()))


def compare_detections(
    a: Detections, b: Detections, min_conf: float = 0.5, min_iou: float = 0.98
) -> Agreement:
    """Agreement of two detection sets for the same image, counted in both directions."""
    return _one_way(a, b, min_conf, min_iou) + _one_way(b, a, min_conf, min_iou)


def compare_runs(
    a: Sequence[Detections], b: Sequence[Detections], min_conf: float = 0.5, min_iou: float = 0.98
) -> Agreement:
    """Sum of ``compare_detections`` over paired per-image results."""
    if len(a) != len(b):
        raise ValueError(f"cannot compare runs of {len(a)} and {len(b)} images")
    total = Agreement(0, 0, 1.0)
    for left, right in zip(a, b, strict=True):
        total += compare_detections(left, right, min_conf, min_iou)
    return total
