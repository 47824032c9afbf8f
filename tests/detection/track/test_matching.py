import numpy as np
import pytest

from detection.track.matching import assign


@pytest.mark.parametrize(
    ("similarity", "threshold", "pairs", "free_rows", "free_cols"),
    [
        ([[0.9, 0.1], [0.1, 0.8]], 0.5, [(0, 0), (1, 1)], [], []),
        ([[0.1, 0.9], [0.8, 0.1]], 0.5, [(0, 1), (1, 0)], [], []),
        ([[0.3]], 0.5, [], [0], [0]),
        # Max-cardinality matching would pair 0-1 and 1-0 (two weak pairs); the threshold-aware
        # objective keeps the one strong pair instead.
        ([[0.95, 0.3], [0.3, 0.0]], 0.25, [(0, 0)], [1], [1]),
        (np.zeros((0, 2)), 0.5, [], [], [0, 1]),
    ],
)
def test_assign(similarity, threshold, pairs, free_rows, free_cols) -> None:
    got = assign(np.asarray(similarity, np.float64), threshold)
    assert got == (pairs, free_rows, free_cols)
