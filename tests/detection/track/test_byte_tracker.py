"""Synthetic scenes with known ground truth: each labelled object must keep one id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from pydantic import ValidationError

from detection.core import Detections
from detection.errors import InputError
from detection.track import ByteTracker, TrackerConfig

NAMES = ("person", "dog")
PERSON, DOG = 0, 1


@dataclass(frozen=True)
class Obj:
    """One ground-truth object in one frame."""

    label: str
    box: tuple[float, float, float, float]
    conf: float = 0.9
    cls: int = PERSON


Scene = list[list[Obj]]


def walker(label: str, x0: float, y0: float, vx: float, vy: float = 0.0, **kw: float) -> Callable:
    """A 40x100 box starting at (x0, y0), moving (vx, vy) px per frame."""

    def at(t: int) -> Obj:
        x, y = x0 + vx * t, y0 + vy * t
        return Obj(label, (x, y, x + 40, y + 100), **kw)  # type: ignore[arg-type]

    return at


def run(scene: Scene, config: TrackerConfig | None = None) -> dict[str, list[int]]:
    """Track the scene; per object label, the track id it got in each frame it appeared in."""
    tracker = ByteTracker(config or TrackerConfig())
    got: dict[str, list[int]] = {}
    for frame in scene:
        dets = Detections.from_arrays(
            [o.box for o in frame], [o.conf for o in frame], [o.cls for o in frame], NAMES
        )
        out = tracker.update(dets)
        assert out.track_id is not None and len(out) == len(frame)
        np.testing.assert_array_equal(out.xyxy, dets.xyxy)  # boxes come back unchanged, in order
        for obj, tid in zip(frame, out.track_id, strict=True):
            got.setdefault(obj.label, []).append(int(tid))
    return got


def crossing() -> Scene:
    a, b = walker("a", 0, 100, 8), walker("b", 400, 110, -8)
    return [[a(t), b(t)] for t in range(50)]


def occluded() -> Scene:
    a = walker("a", 0, 100, 6)
    return [[] if 10 <= t < 16 else [a(t)] for t in range(30)]


def low_confidence_stretch() -> Scene:
    a = walker("a", 0, 100, 4)
    weak = walker("a", 0, 100, 4, conf=0.15)
    return [[weak(t) if 5 <= t < 10 else a(t)] for t in range(15)]


def person_then_dog_same_place() -> Scene:
    person = walker("person", 100, 100, 0)
    dog = walker("dog", 100, 100, 0, cls=DOG)
    return [[person(t)] for t in range(5)] + [[dog(t)] for t in range(5)]


def person_and_dog_overlapping() -> Scene:
    person = walker("person", 100, 100, 2)
    dog = walker("dog", 105, 110, 2, cls=DOG)
    return [[person(t), dog(t)] for t in range(10)]


def late_arrival_and_flicker() -> Scene:
    a, b = walker("a", 0, 100, 3), walker("b", 300, 100, 0)
    flicker = Obj("flicker", (600, 50, 640, 150))
    scene = [[a(t)] + ([b(t)] if t >= 3 else []) for t in range(8)]
    scene[5].append(flicker)
    return scene


def gone_past_buffer() -> Scene:
    a = walker("a", 100, 100, 0)
    return [[a(t)] for t in range(3)] + [[]] * 40 + [[a(t)] for t in range(3)]


def below_birth_threshold() -> Scene:
    a = walker("a", 0, 100, 2, conf=0.4)
    return [[a(t)] for t in range(10)]


def double_detection() -> Scene:
    """A detector (no NMS) reporting one person twice, then once: the stale copy is dropped."""
    a, twin = walker("a", 100, 100, 0), walker("twin", 101, 101, 0)
    return [[a(0), twin(0)], [a(1)], [a(2), twin(2)], [a(3), twin(3)]]


SCENARIOS = [
    # name, scene, config overrides, expected ids per label
    ("crossing", crossing, {}, {"a": [1] * 50, "b": [2] * 50}),
    ("occlusion re-found", occluded, {}, {"a": [1] * 24}),
    ("second stage keeps track", low_confidence_stretch, {}, {"a": [1] * 15}),
    (
        "without second stage",
        low_confidence_stretch,
        {"low_thresh": 0.2},
        {"a": [1] * 5 + [-1] * 5 + [1] * 5},
    ),
    (
        "class kept",
        person_then_dog_same_place,
        {},
        {"person": [1] * 5, "dog": [-1, 2, 2, 2, 2]},
    ),
    ("classes side by side", person_and_dog_overlapping, {}, {"person": [1] * 10, "dog": [2] * 10}),
    # b is confirmed on its second frame; a one-frame box never gets (or uses up) an id.
    (
        "confirmation",
        late_arrival_and_flicker,
        {},
        {"a": [1] * 8, "b": [-1, 2, 2, 2, 2], "flicker": [-1]},
    ),
    ("ids never reused", gone_past_buffer, {"track_buffer": 30}, {"a": [1, 1, 1, -1, 2, 2]}),
    ("lost track re-found", gone_past_buffer, {"track_buffer": 60}, {"a": [1] * 6}),
    # Without duplicate removal the twin would get its old id 2 back in frame 3.
    ("duplicate dropped", double_detection, {}, {"a": [1] * 4, "twin": [2, -1, 3]}),
    ("birth threshold", below_birth_threshold, {"new_track_thresh": 0.6}, {"a": [-1] * 10}),
]


@pytest.mark.parametrize(
    ("scene", "overrides", "expected"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_scenarios(scene: Callable[[], Scene], overrides: dict, expected: dict) -> None:
    assert run(scene(), TrackerConfig(**overrides)) == expected


def test_empty_frames_and_reset() -> None:
    tracker = ByteTracker()
    empty = tracker.update(Detections.empty(NAMES))
    assert len(empty) == 0 and empty.track_id is not None and empty.track_id.dtype == np.int64
    one = Detections.from_arrays([[0, 0, 40, 100]], [0.9], [PERSON], NAMES)
    assert tracker.update(one).track_id.tolist() == [-1]  # not the first frame: tentative
    assert tracker.update(one).track_id.tolist() == [1]
    tracker.reset()
    assert tracker.update(one).track_id.tolist() == [1]  # ids restart after reset


def test_forget_drops_tracks_but_never_reuses_an_id() -> None:
    tracker = ByteTracker()
    one = Detections.from_arrays([[0, 0, 40, 100]], [0.9], [PERSON], NAMES)
    tracker.update(Detections.empty(NAMES))
    assert [tracker.update(one).track_id.tolist() for _ in range(2)] == [[-1], [1]]
    tracker.forget()  # e.g. the camera changed resolution: the old box means nothing now
    assert tracker.update(one).track_id.tolist() == [2]


def test_detections_below_low_thresh_are_returned_untracked() -> None:
    tracker = ByteTracker()
    dets = Detections.from_arrays([[0, 0, 40, 100], [100, 0, 140, 100]], [0.9, 0.05], [0, 0], NAMES)
    assert tracker.update(dets).track_id.tolist() == [1, -1]


def test_names_change_needs_reset() -> None:
    tracker = ByteTracker()
    tracker.update(Detections.empty(NAMES))
    with pytest.raises(InputError, match=r"names changed between frames .*call reset\(\)"):
        tracker.update(Detections.empty(("car",)))
    tracker.reset()
    assert len(tracker.update(Detections.empty(("car",)))) == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"low_thresh": 0.5, "high_thresh": 0.4, "new_track_thresh": 0.5}, "must not exceed"),
        ({"new_track_thresh": 0.2}, "must be at least high_thresh"),
        ({"match_iou": 0.0}, "greater than 0"),
        ({"track_buffer": 0}, "greater than or equal to 1"),
        ({"frame_rate": -1}, "greater than 0"),
        ({"max_age": 3}, "Extra inputs are not permitted"),
    ],
)
def test_config_validation(overrides: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TrackerConfig(**overrides)


@pytest.mark.parametrize(
    ("track_buffer", "frame_rate", "frames"), [(30, 30, 30), (30, 15, 15), (30, 60, 60), (1, 5, 1)]
)
def test_buffer_scales_with_frame_rate(track_buffer: int, frame_rate: float, frames: int) -> None:
    config = TrackerConfig(track_buffer=track_buffer, frame_rate=frame_rate)
    assert config.max_lost_frames == frames
