"""The detector set: set-file checks at start-up (messages naming file and class), the merge of
every model into one tagged ``Detections``, class floors, and the declared conflict rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from detection.core import Detections
from detection.engine import DetectorSet, load_detector
from detection.engine.detector_set import ConflictRule, resolve_conflicts
from detection.errors import ConfigError, ModelError
from tests.conftest import REPO, SHARED, released_model

DOG_ON_STREET = SHARED / "data" / "cones" / "images" / "cone__139_.jpg"  # a corgi by a cone


def write_set(folder: Path, models: list[dict[str, Any]], conflicts: Any = ()) -> Path:
    path = folder / "set.yaml"
    path.write_text(yaml.safe_dump({"models": models, "conflicts": list(conflicts)}))
    return path


def entry(name: str, path: Path | str, **classes: Any) -> dict[str, Any]:
    return {"name": name, "path": Path(path).name, "classes": classes}


@pytest.fixture
def tiny(make_model):
    """Two tiny models whose classes (dog, person, car) are taxonomy names."""
    names = str({0: "dog", 1: "person", 2: "car"})
    return (
        make_model(metadata={"names": names}, name="one.onnx"),
        make_model(metadata={"names": names}, name="two.onnx"),
    )


def test_one_frame_runs_every_model_and_tags_each_box(tmp_path: Path, tiny) -> None:
    one, two = tiny
    path = write_set(
        tmp_path,
        [
            entry("first", one, dog={"floor": 0.0}),
            entry("second", two, person={"floor": 0.75}, car={"floor": 0.0}),
        ],
    )
    detector = load_detector(path, imgsz=64)
    assert isinstance(detector, DetectorSet)
    found = detector(np.full((64, 64, 3), 255, np.uint8))
    # first: its dog (class a, 0.9); second: person 0.7 is under its 0.75 floor, car 0.6 kept
    assert found.names == ("person", "dog", "car")  # the taxonomy's order
    assert list(zip(found.class_name, found.model, strict=True)) == [
        ("dog", "first"),
        ("car", "second"),
    ]
    assert [r["model"] for r in found.to_records()] == ["first", "second"]


def test_a_class_under_another_name_in_the_model(tmp_path: Path, make_model) -> None:
    model = make_model(metadata={"names": str({0: "dining table", 1: "x", 2: "y"})})
    path = write_set(
        tmp_path, [entry("coco", model, dining_table={"floor": 0.5, "model_class": "dining table"})]
    )
    found = load_detector(path, imgsz=64)(np.full((64, 64, 3), 255, np.uint8))
    assert found.class_name == ["dining_table"]


@pytest.mark.parametrize(
    ("models", "error", "message"),
    [
        (
            [entry("a", "one.onnx", dog={"floor": 0.1}),
             entry("b", "gone.onnx", car={"floor": 0.1})],
            ModelError,
            "model 'b' names a missing file gone.onnx",
        ),
        (
            [entry("a", "one.onnx", unicorn={"floor": 0.1})],
            ConfigError,
            "model 'a' supplies 'unicorn', not a taxonomy class",
        ),
        (
            [entry("a", "one.onnx", graffiti={"floor": 0.1})],
            ConfigError,
            "model 'a' (one.onnx) has no class 'graffiti' for 'graffiti'; its classes: dog, person",
        ),
        (
            [entry("a", "one.onnx", dog={"floor": 0.1}),
             entry("b", "two.onnx", dog={"floor": 0.2})],
            ConfigError,
            "class 'dog' is claimed by a, b with no merge rule",
        ),
        (
            [entry("a", "one.onnx", dog={"floor": 1.5})],
            ConfigError,
            "models.0.classes.dog.floor: Input should be less than or equal to 1",
        ),
        (
            [entry("a", "one.onnx", dog={"floor": 0.1, "conf": 0.3})],
            ConfigError,
            "models.0.classes.dog.conf: Extra inputs are not permitted",
        ),
    ],
)  # fmt: skip
def test_bad_set_files_are_refused_naming_file_and_class(
    tmp_path: Path, tiny, models: list[Any], error: type[Exception], message: str
) -> None:
    path = write_set(tmp_path, models)
    with pytest.raises(error) as err:
        load_detector(path, imgsz=64)
    assert str(path) in str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("conflicts", "message"),
    [
        ([{"suppress": {"class": "dog_waste", "inside": ["dog"], "min_overlap": 0.6}}],
         "a conflict rule names 'dog_waste', which no model supplies"),
        ([{"merge": {"class": "dog", "iou": 0.5},
           "suppress": {"class": "dog", "inside": ["car"], "min_overlap": 0.5}}],
         "a conflict rule is exactly one of suppress or merge"),
    ],
)  # fmt: skip
def test_bad_conflict_rules_are_refused(
    tmp_path: Path, tiny, conflicts: list[Any], message: str
) -> None:
    path = write_set(tmp_path, [entry("a", tiny[0], dog={"floor": 0.1})], conflicts)
    with pytest.raises(ConfigError, match=message):
        load_detector(path, imgsz=64)


def test_a_model_without_class_names_is_refused_naming_the_set(tmp_path: Path, make_model) -> None:
    bare = make_model(metadata={"names": None}, name="bare.onnx")
    path = write_set(tmp_path, [entry("bare", bare, dog={"floor": 0.1})])
    with pytest.raises(ModelError) as err:
        load_detector(path, imgsz=64)
    assert f"{path}: model 'bare':" in str(err.value)
    assert "bare.onnx has no 'names' metadata" in str(err.value)


def test_a_missing_set_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"detector set file not found: .*nope\.yaml"):
        load_detector(tmp_path / "nope.yaml")


NAMES = ("person", "dog", "car", "dog_waste", "graffiti")
SUPPRESS_WASTE = {"suppress": {"class": "dog_waste", "inside": ["dog"], "min_overlap": 0.6}}
SUPPRESS_GRAFFITI = {
    "suppress": {"class": "graffiti", "inside": ["person", "car"], "min_overlap": 0.6}
}
MERGE_PEOPLE = {"merge": {"class": "person", "iou": 0.5}}


def dets(*boxes: tuple[str, float, tuple[int, int, int, int], str]) -> Detections:
    return Detections.from_arrays(
        [b[2] for b in boxes] or np.zeros((0, 4)),
        [b[1] for b in boxes],
        [NAMES.index(b[0]) for b in boxes],
        NAMES,
        model=[b[3] for b in boxes],
    )


@pytest.mark.parametrize(
    ("rules", "boxes", "kept"),
    [
        # dog_waste wholly inside a dog: the dog
        ([SUPPRESS_WASTE], [("dog", 0.6, (0, 0, 100, 100), "coco"),
                            ("dog_waste", 0.7, (10, 10, 50, 50), "v2")], ["dog"]),
        # half inside (0.5 < 0.6): both stay
        ([SUPPRESS_WASTE], [("dog", 0.6, (0, 0, 100, 100), "coco"),
                            ("dog_waste", 0.7, (80, 0, 120, 40), "v2")], ["dog", "dog_waste"]),
        # no rule: nothing is removed
        ([], [("dog", 0.6, (0, 0, 100, 100), "coco"),
              ("dog_waste", 0.7, (10, 10, 50, 50), "v2")], ["dog", "dog_waste"]),
        # graffiti on a person, on a car; graffiti on a wall stays
        ([SUPPRESS_GRAFFITI], [("person", 0.8, (0, 0, 50, 150), "coco"),
                               ("graffiti", 0.5, (10, 30, 40, 80), "v2"),
                               ("car", 0.8, (200, 0, 400, 100), "coco"),
                               ("graffiti", 0.5, (220, 10, 300, 90), "v2"),
                               ("graffiti", 0.5, (500, 0, 600, 100), "v2")],
         ["person", "car", "graffiti"]),
        # the rule names its classes only: a dog does not suppress graffiti
        ([SUPPRESS_GRAFFITI], [("dog", 0.8, (0, 0, 100, 100), "coco"),
                               ("graffiti", 0.5, (10, 10, 50, 50), "v2")], ["dog", "graffiti"]),
        # merge: two models' people overlapping, the more confident stays; a same-model pair stays
        ([MERGE_PEOPLE], [("person", 0.6, (0, 0, 50, 100), "a"),
                          ("person", 0.9, (2, 0, 52, 100), "b"),
                          ("person", 0.5, (200, 0, 250, 100), "a"),
                          ("person", 0.4, (202, 0, 252, 100), "a")],
         ["person:0.9", "person:0.5", "person:0.4"]),
        # an empty frame
        ([SUPPRESS_WASTE, MERGE_PEOPLE], [], []),
    ],
)  # fmt: skip
def test_conflict_rules(rules: list[Any], boxes: list[Any], kept: list[str]) -> None:
    found = resolve_conflicts(dets(*boxes), [ConflictRule.model_validate(r) for r in rules])
    if any(":" in k for k in kept):
        assert [
            f"{n}:{c:.1f}" for n, c in zip(found.class_name, found.confidence, strict=True)
        ] == kept
    else:
        assert found.class_name == kept
    assert found.model is not None and len(found.model) == len(found)


def test_the_default_set_file_is_valid_and_ships_both_models() -> None:
    detector = load_detector(REPO / "models" / "default.yaml")
    assert isinstance(detector, DetectorSet)
    assert {"dog", "dog_waste", "graffiti", "person", "umbrella"} <= set(detector.names)


@pytest.mark.shared_data
def test_the_set_finds_the_dog_on_the_street_that_the_disorder_model_misses() -> None:
    image = cv2.imread(str(DOG_ON_STREET))
    alone = load_detector(released_model(), conf=0.25)(image)
    assert "dog" not in alone.class_name
    found = load_detector(conf=0.25)(image)
    dogs = found[np.asarray(found.class_name) == "dog"]
    assert dogs.model is not None and set(dogs.model) == {"coco-context"}
    best = dogs[int(np.argmax(dogs.confidence))]
    assert best.confidence[0] >= 0.5
    _, y0, x1, y1 = best.xyxy[0]  # the corgi's body, left of the cone (x 300-390)
    assert x1 < 300 and y0 > 80 and y1 < 220, best.xyxy
    assert "traffic_cone" in found.class_name


def test_the_set_gives_each_models_own_boxes_from_one_letterbox() -> None:
    """The set letterboxes a frame once for models of the same input plan: each model's boxes of
    its classes come out as that model alone finds them."""
    ultralytics = pytest.importorskip("ultralytics")
    image = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "bus.jpg"))
    found = load_detector(REPO / "models" / "default.yaml", conf=0.1)(image)
    alone = load_detector(REPO / "models" / "coco-context" / "model.onnx", conf=0.1)(image)
    people = alone[np.asarray(alone.class_name) == "person"]
    from_coco = found[np.asarray(found.model) == "coco-context"]
    mine = from_coco[np.asarray(from_coco.class_name) == "person"]
    np.testing.assert_array_equal(mine.xyxy, people.xyxy)
    np.testing.assert_array_equal(mine.confidence, people.confidence)


def test_the_taxonomy_names_the_model_of_the_default_set_that_supplies_each_class() -> None:
    """``supplied_by`` in datasets/taxonomy.yaml is checked against models/default.yaml."""
    from detection.engine.detector_set import read_set_file
    from detection.taxonomy import default_taxonomy

    spec = read_set_file(REPO / "models" / "default.yaml")
    supplier = {name: model.name for model in spec.models for name in model.classes}
    declared = {c.name: c.supplied_by for c in default_taxonomy().classes if c.supplied_by}
    assert declared == supplier
