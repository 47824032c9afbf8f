"""Thresholded one-to-one assignment of tracks to detections."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

Pairs = list[tuple[int, int]]


def assign(
    similarity: npt.NDArray[np.float64], threshold: float
) -> tuple[Pairs, list[int], list[int]]:
    """Match rows to columns maximising similarity, using only pairs at or above ``threshold``.

    Each pair contributes ``similarity - threshold``, so a weak pair is never taken at the cost of a
    strong one (the ``cost_limit`` semantics of ByteTrack's ``lap.lapjv``), unlike plain
    maximum-weight matching, which pairs everything it can.

    Returns (pairs, unmatched rows, unmatched columns).
    """
    rows, cols = similarity.shape
    if rows == 0 or cols == 0:
        return [], list(range(rows)), list(range(cols))
    gain = np.where(similarity >= threshold, similarity - threshold, 0.0)
    r_idx, c_idx = linear_sum_assignment(gain, maximize=True)
    pairs = [
        (int(r), int(c)) for r, c in zip(r_idx, c_idx, strict=True) if similarity[r, c] >= threshold
    ]
    matched_r = {r for r, _ in pairs}
    matched_c = {c for _, c in pairs}
    return (
        pairs,
        [r for r in range(rows) if r not in matched_r],
        [c for c in range(cols) if c not in matched_c],
    )
