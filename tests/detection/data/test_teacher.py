"""Teacher pseudo-labels: the recipe's rules map teacher names to taxonomy names at their own
confidence, human boxes win, two teachers' boxes for one object count once, the cache works."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detection.core import Detections
from detection.data.samples import Box
from detection.data.teacher import (
    ClassRule,
    RawBox,
    TeacherCache,
    dedup_same_class,
    merge_teacher,
    raw_boxes,
    teacher_boxes,
)


def _raw() -> list[RawBox]:
    dets = Detections.from_arrays(
        xyxy=np.array([[10, 20, 50, 80], [0, 0, 5, 5], [100, 0, 200, 100]], np.float32),
        confidence=np.array([0.9, 0.8, 0.3], np.float32),
        class_id=np.array([0, 1, 2]),
        names=("person", "kite", "dining table"),
    )
    return raw_boxes(dets, width=200, height=100)


def test_raw_boxes_are_normalised_in_the_teachers_own_names() -> None:
    raw = _raw()
    assert [(r.name, r.conf) for r in raw] == [
        ("person", 0.9),
        ("kite", 0.8),
        ("dining table", 0.3),
    ]
    assert raw[0].box == Box("person", 0.05, 0.2, 0.25, 0.8)


@pytest.mark.parametrize(
    ("rules", "labels"),
    [
        ({"person": ClassRule("person", 0.35)}, ["person"]),
        ({"dining table": ClassRule("dining_table", 0.25)}, ["dining_table"]),
        ({"dining table": ClassRule("dining_table", 0.35)}, []),  # under its confidence
        ({"person": ClassRule("person", 0.95)}, []),
        ({}, []),  # unmapped classes never become labels
    ],
)
def test_teacher_boxes_apply_each_class_rule(
    rules: dict[str, ClassRule], labels: list[str]
) -> None:
    assert [b.label for b in teacher_boxes(_raw(), rules)] == labels


@pytest.mark.parametrize(
    ("teacher", "kept"),
    [
        (Box("person", 0.1, 0.1, 0.3, 0.5), False),  # duplicates the human box
        (Box("chair", 0.11, 0.1, 0.3, 0.5), False),  # overlaps a human box of another class
        (Box("person", 0.6, 0.6, 0.9, 0.9), True),  # somewhere else
        (Box("person", 0.1, 0.1, 0.2, 0.5), False),  # IoU exactly 0.5: a duplicate
        (Box("person", 0.2, 0.1, 0.4, 0.5), True),  # IoU 1/3: a neighbour
    ],
)
def test_merge_teacher_never_duplicates_human_labels(teacher: Box, kept: bool) -> None:
    human = [Box("person", 0.1, 0.1, 0.3, 0.5)]
    assert merge_teacher(human, [teacher], dedup_iou=0.5) == ([teacher] if kept else [])


def test_two_teachers_boxes_for_one_object_count_once() -> None:
    a, b = Box("dog", 0.1, 0.1, 0.5, 0.5), Box("dog", 0.12, 0.1, 0.5, 0.52)
    other_class, elsewhere = Box("person", 0.1, 0.1, 0.5, 0.5), Box("dog", 0.6, 0.6, 0.9, 0.9)
    assert dedup_same_class([a, b, other_class, elsewhere], 0.5) == [a, other_class, elsewhere]


def test_teacher_cache_round_trip(tmp_path: Path) -> None:
    cache = TeacherCache(tmp_path, "k")
    assert cache.get("abc") is None
    raw = [RawBox("Plastic bag", 0.42, Box("Plastic bag", 0.1, 0.2, 0.3, 0.4))]
    cache.put("abc", raw)
    cache.put("empty", [])
    cache.save()
    again = TeacherCache(tmp_path, "k")
    assert again.get("abc") == raw and again.get("empty") == []
    assert TeacherCache(tmp_path, "other-model").get("abc") is None
    assert TeacherCache(None, "k").get("abc") is None
