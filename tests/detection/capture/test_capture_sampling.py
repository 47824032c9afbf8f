"""Timestamp-based frame sampling: kept frames run at the target rate, without drift."""

from __future__ import annotations

import pytest

from detection.capture import FpsSampler


def kept(fps: float | None, timestamps: list[float]) -> list[float]:
    sampler = FpsSampler(fps)
    return [t for t in timestamps if sampler.keep(t)]


@pytest.mark.parametrize(
    ("source_fps", "target_fps", "seconds", "expected"),
    [
        (25.0, 10.0, 10, 100),  # 10/s, not every third frame (8.3/s)
        (30.0, 1.0, 10, 10),
        (29.97, 5.0, 10, 50),
        (10.0, 25.0, 10, 100),  # faster than the source keeps everything
        (25.0, None, 10, 250),
    ],
)
def test_rate_matches_target(
    source_fps: float, target_fps: float | None, seconds: int, expected: int
) -> None:
    timestamps = [i / source_fps for i in range(round(source_fps * seconds))]
    assert len(kept(target_fps, timestamps)) == expected


def test_resynchronises_after_a_gap() -> None:
    # 1 s of 10 fps, a 5 s gap, 1 s more: no burst to "catch up" after the gap
    timestamps = [i / 10 for i in range(10)] + [6 + i / 10 for i in range(10)]
    assert kept(2.0, timestamps) == pytest.approx([0.0, 0.5, 6.0, 6.5])


def test_float_timestamps_on_the_due_time_count() -> None:
    # due times add up to 0.1 + 0.1 + 0.1 = 0.30000000000000004; the container says 0.3
    assert kept(10.0, [0.0, 0.1, 0.2, 0.3]) == [0.0, 0.1, 0.2, 0.3]


@pytest.mark.parametrize("fps", [0.0, -1.0, float("inf"), float("nan")])
def test_rejects_non_positive_rates(fps: float) -> None:
    with pytest.raises(ValueError, match="fps must be a positive number"):
        FpsSampler(fps)


def test_resynchronises_when_the_clock_jumps_back() -> None:
    # a live stream restarting its timestamps must not wait for the old clock to come back
    timestamps = [i / 10 for i in range(30)] + [i / 10 for i in range(12)]
    assert kept(1.0, timestamps) == pytest.approx([0.0, 1.0, 2.0, 0.0, 1.0])


def test_early_frames_within_the_slack_are_kept() -> None:
    sampler = FpsSampler(1.0)
    assert [sampler.keep(t, early_s=0.25) for t in (0.0, 0.5, 0.8, 1.7, 1.8)] == [
        True,
        False,
        True,  # due at 1.0, 0.2 s early
        False,  # due at 2.0: the grid does not move with an early frame
        True,
    ]
