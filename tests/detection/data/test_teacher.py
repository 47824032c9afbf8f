"""Teacher pseudo-labels: COCO names map to taxonomy names, human boxes win, the cache works."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detection.core import Detections
from detection.data.samples import Box
from detection.data.teacher import TeacherCache, merge_teacher, teacher_boxes
from detection.taxonomy import default_taxonomy


def test_teacher_boxes_keep_mapped_classes_normalised() -> None:
    dets = Detections.from_arrays(
        xyxy=np.array([[10, 20, 50, 80], [0, 0, 5, 5], [100, 0, 200, 100]], np.float32),
        confidence=np.array([0.9, 0.8, 0.7], np.float32),
        class_id=np.array([0, 1, 2]),
        names=("person", "kite", "dining table"),
    )
    boxes = teacher_boxes(dets, default_taxonomy().teacher_map(), width=200, height=100)
    assert boxes == [Box("person", 0.05, 0.2, 0.25, 0.8), Box("dining_table", 0.5, 0.0, 1.0, 1.0)]


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


def test_teacher_cache_round_trip(tmp_path: Path) -> None:
    cache = TeacherCache(tmp_path, "k")
    assert cache.get("abc") is None
    cache.put("abc", [Box("dog", 0.1, 0.2, 0.3, 0.4)])
    cache.put("empty", [])
    cache.save()
    again = TeacherCache(tmp_path, "k")
    assert again.get("abc") == [Box("dog", 0.1, 0.2, 0.3, 0.4)] and again.get("empty") == []
    assert TeacherCache(tmp_path, "other-model").get("abc") is None
    assert TeacherCache(None, "k").get("abc") is None
