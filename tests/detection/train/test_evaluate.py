"""Evaluation bookkeeping on hand-made detections: metrics, confusion, error cases, outputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from detection.core import Detections
from detection.errors import InputError
from detection.train.evaluate import (
    Accumulator,
    EvalRun,
    accumulate,
    format_table,
    load_split,
    report,
    summarise,
    write_outputs,
)

NAMES = ("graffiti", "garbage_bag", "person")


def _dataset(root: Path) -> Path:
    (root / "images" / "test").mkdir(parents=True)
    (root / "labels" / "test").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "test" / "a.jpg"), np.full((100, 200, 3), 90, np.uint8))
    # graffiti at x 20..60, y 20..60 px; garbage_bag at x 100..180, y 40..90
    (root / "labels" / "test" / "a.txt").write_text("0 0.2 0.4 0.2 0.4\n1 0.7 0.65 0.4 0.5\n")
    data = {"test": "images/test", "names": list(NAMES)}
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    return root / "data.yaml"


def test_load_split_gives_pixel_boxes(tmp_path: Path) -> None:
    names, truths = load_split(_dataset(tmp_path), "test")
    assert names == NAMES
    np.testing.assert_allclose(truths[0].xyxy, [[20, 20, 60, 60], [100, 40, 180, 90]])
    assert truths[0].cls.tolist() == [0, 1]


def test_load_split_without_the_split_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read split 'val'"):
        load_split(_dataset(tmp_path), "val")


def test_accumulate_and_report(tmp_path: Path) -> None:
    names, truths = load_split(_dataset(tmp_path), "test")
    # model names differ in order and include a class the dataset lacks ("kite")
    model_names = ("kite", "garbage_bag", "graffiti", "person")
    dets = Detections.from_arrays(
        xyxy=np.array(
            [[20, 20, 60, 60], [100, 40, 180, 90], [0, 0, 10, 10], [5, 5, 50, 50]], np.float32
        ),
        confidence=np.array([0.9, 0.3, 0.8, 0.95], np.float32),
        class_id=np.array([2, 2, 3, 0]),
        names=model_names,
    )
    acc = Accumulator(len(names))
    accumulate(acc, truths[0], dets, names, conf=0.25)
    per_class = summarise(acc, names, 0.25)
    doc = report(per_class, Path("m.onnx"), Path("d.yaml"), "test", 1)
    graffiti, bag = doc["classes"]["graffiti"], doc["classes"]["garbage_bag"]
    assert (graffiti["precision"], graffiti["recall"], graffiti["ap50"]) == (0.5, 1.0, 0.995)
    assert (bag["recall"], bag["ap50"]) == (0.0, 0.0)  # predicted as graffiti: wrong class
    assert doc["false_positive_only"] == {"person": 1}
    assert "person" not in doc["classes"]  # no ground truth in this split
    # confusion: graffiti→graffiti, graffiti predicted on the bag, person on background
    assert acc.confusion[0, 0] == 1 and acc.confusion[0, 1] == 1 and acc.confusion[2, 3] == 1
    assert sorted(c.name for c in acc.false_pos) == ["graffiti", "person"]
    assert [c.name for c in acc.false_neg] == ["garbage_bag"]
    assert "graffiti" in format_table(doc)
    files = write_outputs(EvalRun(doc, acc, names), tmp_path / "out")
    assert all(p.stat().st_size > 0 for p in files.values())


def test_teacher_classes_are_marked(tmp_path: Path) -> None:
    names, truths = load_split(_dataset(tmp_path), "test")
    truths[0].cls[1] = 2  # pretend the second box is a (teacher-labelled) person
    acc = Accumulator(len(names))
    accumulate(acc, truths[0], Detections.empty(names), names, 0.25)
    doc = report(summarise(acc, names, 0.25), Path("m"), Path("d"), "test", 1)
    assert doc["classes"]["person"]["reference"] == "teacher"
    assert doc["classes"]["graffiti"]["reference"] == "human"
    assert doc["classes"]["person"]["recall"] == 0.0
