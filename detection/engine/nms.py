"""Non-maximum suppression in numpy: the detector's postprocessing without torch.

Greedy NMS keeps the highest-scoring box and drops later boxes overlapping it by IoU strictly
greater than the threshold, like ``torchvision.ops.nms``; class-aware NMS shifts each class into
its own coordinate range so one pass never suppresses across classes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from detection.core import IntArray, box_iou


def nms(
    boxes: npt.ArrayLike,
    scores: npt.ArrayLike,
    iou_threshold: float,
    max_keep: int | None = None,
) -> IntArray:
    """Indices of the boxes greedy NMS keeps, highest score first (at most ``max_keep``)."""
    xyxy = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float64).reshape(-1), kind="stable")
    keep: list[int] = []
    while order.size and (max_keep is None or len(keep) < max_keep):
        best, rest = order[0], order[1:]
        keep.append(int(best))
        overlap = box_iou(xyxy[best], xyxy[rest])[0]
        order = rest[overlap <= iou_threshold]
    return np.asarray(keep, np.int64)


def batched_nms(
    boxes: npt.ArrayLike,
    scores: npt.ArrayLike,
    class_ids: npt.ArrayLike,
    iou_threshold: float,
    max_keep: int | None = None,
) -> IntArray:
    """Class-aware NMS: boxes only suppress boxes of their own class. Highest score first."""
    xyxy = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(xyxy):
        return np.zeros(0, np.int64)
    span = float(xyxy.max() - xyxy.min()) + 1.0
    offsets = np.asarray(class_ids, np.float64).reshape(-1, 1) * span
    return nms(xyxy + offsets, scores, iou_threshold, max_keep)
