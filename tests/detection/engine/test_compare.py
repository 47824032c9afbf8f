"""Agreement counting used by parity tests and the benchmark."""

from __future__ import annotations

import pytest

from detection.core import Detections
from detection.engine.compare import Agreement, compare_detections, compare_runs

NAMES = ("person", "car")


def dets(*rows: tuple[float, float, float, float, float, int]) -> Detections:
    if not rows:
        return Detections.empty(NAMES)
    return Detections.from_arrays(
        [r[:4] for r in rows], [r[4] for r in rows], [r[5] for r in rows], NAMES
    )


BOX = (0, 0, 100, 100)
NUDGED = (0, 0, 100, 101)  # IoU 0.990
MOVED = (0, 0, 100, 110)  # IoU 0.909


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (dets((*BOX, 0.9, 0)), dets((*BOX, 0.9, 0)), Agreement(2, 2, 1.0)),
        (dets((*BOX, 0.9, 0)), dets((*NUDGED, 0.9, 0)), Agreement(2, 2, 0.99)),
        (dets((*BOX, 0.9, 0)), dets((*MOVED, 0.9, 0)), Agreement(2, 0, 100 / 110)),
        (dets((*BOX, 0.9, 0)), dets((*BOX, 0.9, 1)), Agreement(2, 0, 0.0)),  # other class
        (dets((*BOX, 0.3, 0)), dets(), Agreement(0, 0, 1.0)),  # not confident: not counted
        (dets((*BOX, 0.6, 0)), dets((*BOX, 0.4, 0)), Agreement(1, 1, 1.0)),  # straddles the cut
        (dets((*BOX, 0.9, 0)), dets(), Agreement(1, 0, 0.0)),
    ],
)
def test_compare_detections(a: Detections, b: Detections, expected: Agreement) -> None:
    got = compare_detections(a, b, min_conf=0.5, min_iou=0.98)
    assert (got.confident, got.matched) == (expected.confident, expected.matched)
    assert got.worst_iou == pytest.approx(expected.worst_iou, abs=1e-3)
    assert got.all_matched == (expected.confident == expected.matched)


def test_compare_runs_sums_and_checks_lengths() -> None:
    one = dets((*BOX, 0.9, 0))
    assert compare_runs([one, one], [one, dets()]) == Agreement(3, 2, 0.0)
    with pytest.raises(ValueError, match="runs of 2 and 1 images"):
        compare_runs([one, one], [one])
