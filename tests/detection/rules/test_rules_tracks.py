"""Stationarity from tracks, robust to id switches, gaps and untracked boxes."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from rules_helpers import MONDAY_9AM, Obj, config, on_ground, simulate, steady

from detection.rules.config import Stationarity
from detection.rules.tracks import TrackMemory

PAVE = 180


def bag(x: float = 100, y: float = PAVE, tid: int = 1) -> Obj:
    return on_ground("garbage_bag", x, y, tid=tid)


def test_id_switch_at_the_same_place_continues_the_dwell() -> None:
    timeline = [(s, [bag(100 + (s % 2), tid=1 if s < 6 else 2)]) for s in range(13)]
    (inc,) = simulate(config(), timeline)
    assert inc.rule == "3a.piled_in_public_space"
    assert inc.tracks[0].tracker_ids == (1, 2)
    assert inc.dwell_s == 12.0
    assert inc.first_seen == MONDAY_9AM


@pytest.mark.parametrize(
    ("gap_s", "rejoin_gap_s", "fires"),
    [(4, 30, True), (4, 3, False)],
    ids=["short-gap-rejoins", "gap-longer-than-rejoin-window"],
)
def test_lost_track_reappearing_within_the_rejoin_window_keeps_its_dwell(
    gap_s: int, rejoin_gap_s: float, fires: bool
) -> None:
    """Seen 0-4 s (id 1), hidden for ``gap_s``, back with id 7 until 14 s."""
    timeline = [(s, [] if 4 < s <= 4 + gap_s else [bag(tid=1 if s <= 4 else 7)]) for s in range(15)]
    cfg = config(stationarity={"rejoin_gap_s": rejoin_gap_s})
    assert len(simulate(cfg, timeline)) == (1 if fires else 0)


@pytest.mark.parametrize(
    ("moved_to", "name", "fires"),
    [
        ((100, PAVE), "garbage_bag", True),
        ((400, PAVE), "garbage_bag", False),
        ((100, PAVE), "suitcase", False),
    ],
    ids=["same-place", "elsewhere", "other-class"],
)
def test_rejoin_needs_same_place_and_class(
    moved_to: tuple[float, float], name: str, fires: bool
) -> None:
    first = [(s, [bag(tid=1)]) for s in range(6)]
    later = [(s, [on_ground(name, *moved_to, tid=2)]) for s in range(6, 13)]
    rules = [i.rule for i in simulate(config(), first + later)]
    assert rules == (["3a.piled_in_public_space"] if fires else [])


def test_untracked_boxes_are_associated_by_position() -> None:
    (inc,) = simulate(config(), steady([bag(tid=-1)], 12))
    assert inc.tracks[0].tracker_ids == ()
    assert inc.tracks[0].frames == 13


@pytest.mark.parametrize(
    ("speed_px_s", "fires"),
    [(0.0, True), (1.5, True), (3.0, False)],
    ids=["still", "jitter-within-tolerance", "creeping-away"],
)
def test_stationarity_is_drift_relative_to_box_size(speed_px_s: float, fires: bool) -> None:
    """A 40 px bag may drift 0.5 sizes = 20 px; at 3 px/s it leaves in 7 s, before 10 s dwell."""
    timeline = [(s, [bag(x=100 + speed_px_s * s)]) for s in range(13)]
    assert len(simulate(config(), timeline)) == (1 if fires else 0)


def test_memory_forgets_tracks_after_the_rejoin_window() -> None:
    memory = TrackMemory(Stationarity(rejoin_gap_s=5), lambda _: 0.5)
    box = np.array([[10, 10, 50, 50]], np.float32)
    conf = np.array([0.9], np.float32)
    memory.update(MONDAY_9AM, ["garbage_bag"], box, conf, np.array([1]))
    assert len(memory) == 1
    empty = np.zeros((0, 4), np.float32)
    memory.update(MONDAY_9AM + timedelta(seconds=6), [], empty, np.zeros(0, np.float32), None)
    assert len(memory) == 0


def test_two_boxes_of_one_class_keep_separate_tracks() -> None:
    memory = TrackMemory(Stationarity(), lambda _: 0.5)
    boxes = np.array([[10, 10, 50, 50], [300, 10, 340, 50]], np.float32)
    conf = np.array([0.9, 0.8], np.float32)
    for s in range(3):
        seen = memory.update(
            MONDAY_9AM + timedelta(seconds=s), ["chair", "chair"], boxes, conf, None
        )
    assert [x.track.key for x in seen] == [1, 2]
    assert [x.track.frames for x in seen] == [3, 3]
