"""The recipe's teachers table: measured before use, applied by class rule, bad tables refused.

A tiny ONNX detector (tests/detection/conftest.py) is the teacher: on a 64×48 image its class
``a`` box lands where the ``walls`` source has its graffiti label, so its precision is known.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import pytest
import yaml

from detection.cli import main
from detection.data.recipe import build_recipe, load_recipe
from detection.data.teacher_report import gallery, markdown, measure
from detection.errors import ConfigError

# The tiny model's class-a box (input 15..25 px) on a 64×48 image letterboxed to 64×64.
A_LABEL = f"0 {20 / 64} {12 / 48} {10 / 64} {10 / 48}\n"


def _recipe(
    tmp_path: Path,
    make_yolo: Callable[..., Path],
    model: Path,
    classes: dict[str, Any],
    **extra: Any,
) -> Path:
    walls = make_yolo(tmp_path / "walls", {f"w{i}": A_LABEL for i in range(6)}, ["graffiti"])
    bags = make_yolo(tmp_path / "bags", {f"b{i}": "" for i in range(4)}, ["bag"], seed=500)
    doc = {
        "name": "t",
        "out": str(tmp_path / "out"),
        "split": {"train": 0.5, "val": 0.25, "test": 0.25},
        "teachers": [{"name": "tiny", "model": str(model), "imgsz": 64, "classes": classes}],
        "sources": [
            {"name": "walls", "path": str(walls), "classes": {"graffiti": "graffiti"}},
            {"name": "bags", "path": str(bags), "classes": {}},
        ],
        **extra,
    }
    file = tmp_path / "recipe.yaml"
    file.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return file


WALL_TRUTH = {"source": "walls", "name": "graffiti"}


def test_measure_scores_a_class_against_a_sources_labels_and_galleries_the_rest(
    tmp_path: Path, make_yolo: Callable[..., Path], make_model: Callable[..., Path]
) -> None:
    classes = {
        "a": {"to": "person", "conf": 0.3, "truth": WALL_TRUTH},
        "c": {"to": "dog", "conf": 0.2},
    }
    file = _recipe(tmp_path, make_yolo, make_model(), classes)
    rows, raw, _ = measure(file, tmp_path / "cache")
    by_name = {r.name: r for r in rows}
    a, c = by_name["a"], by_name["c"]
    assert (a.precision, a.recall, a.boxes, a.truth) == (1.0, 1.0, 6, "walls:graffiti")
    assert [n for _, _, n in a.sweep] == [6, 6, 6, 0, 0]  # its scores lie between 0.3 and 0.5
    assert c.precision is None and c.boxes == 10 and c.truth == "gallery"
    sheet = tmp_path / "c.png"
    assert gallery(raw["tiny"], "c", 0.2, sheet, n=50) == 10
    assert cv2.imread(str(sheet)).shape == (128, 1280, 3)
    table = markdown(rows, load_recipe(file, check_bar=False))
    assert "| tiny | a | person | 0.3 | 6 | 1.00 | 1.00 | walls:graffiti | yes |" in table


def test_build_applies_used_classes_only_and_human_labels_win(
    tmp_path: Path, make_yolo: Callable[..., Path], make_model: Callable[..., Path]
) -> None:
    classes = {
        "a": {"to": "graffiti", "conf": 0.3, "precision": 1.0, "boxes": 6, "measured": "walls"},
        "c": {"to": "dog", "conf": 0.2, "use": False, "reason": "fires on corners"},
    }
    file = _recipe(
        tmp_path, make_yolo, make_model(), classes, min_teacher_precision=0.6, min_teacher_boxes=5
    )
    manifest = build_recipe(file, cache_dir=tmp_path / "cache")
    per_source = {
        src: sum(e["teacher_boxes"] for e in manifest["files"] if e["source"] == src)
        for src in ("walls", "bags")
    }
    # walls label graffiti by hand, so the teacher adds none there; bags get one per image.
    assert per_source == {"walls": 0, "bags": 4}
    totals = Counter[str]()
    for split in manifest["boxes"].values():
        totals.update(split)
    assert dict(totals) == {"graffiti": 10}  # 6 by hand + 4 by the teacher; 'c' is not used


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        (
            {"a": {"to": "person", "conf": 0.3}},
            r"teacher 'tiny' class 'a' → 'person' has no measured precision, under the "
            r"recipe's bar 0.6",
        ),
        (
            {"a": {"to": "person", "conf": 0.3, "precision": 0.4}},
            r"class 'a' → 'person' has 0.4, under the recipe's bar 0.6",
        ),
        (
            {"a": {"to": "person", "conf": 0.3, "precision": 0.9, "boxes": 4}},
            r"class 'a' → 'person': precision measured on 4 boxes, fewer than the recipe's "
            r"min_teacher_boxes 10",
        ),
        ({"a": {"to": "person", "conf": 0.3, "use": False}}, r"needs a 'reason'"),
        ({"a": {"to": "person", "conf": 0.05}}, r"greater than or equal to 0.1"),
    ],
)
def test_unmeasured_or_weak_classes_are_refused_naming_the_recipe(
    tmp_path: Path,
    make_yolo: Callable[..., Path],
    make_model: Callable[..., Path],
    classes: dict[str, Any],
    message: str,
) -> None:
    file = _recipe(tmp_path, make_yolo, make_model(), classes, min_teacher_precision=0.6)
    with pytest.raises(ConfigError, match=message) as err:
        build_recipe(file)
    assert str(file) in str(err.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("model_kind", "classes", "message"),
    [
        ("missing", {"a": {"to": "person", "conf": 0.3}}, r"teacher 'tiny': model file not found"),
        (
            "no-names",
            {"a": {"to": "person", "conf": 0.3}},
            r"teacher 'tiny' cannot be used: .*tiny\.onnx has no 'names' metadata",
        ),
        (
            "ok",
            {"Tent": {"to": "stall", "conf": 0.3}},
            r"teacher 'tiny' \(.*tiny\.onnx\): class 'Tent' is not one of its 3 classes",
        ),
        (
            "ok",
            {"b": {"to": "tent", "conf": 0.3}},
            r"teacher 'tiny': 'b' maps to 'tent', which is not a taxonomy class",
        ),
    ],
)
def test_bad_teacher_files_and_mappings_are_named_and_nothing_is_written(
    tmp_path: Path,
    make_yolo: Callable[..., Path],
    make_model: Callable[..., Path],
    model_kind: str,
    classes: dict[str, Any],
    message: str,
) -> None:
    model = {
        "missing": lambda: tmp_path / "nope.onnx",
        "no-names": lambda: make_model(metadata={"names": None}),
        "ok": make_model,
    }[model_kind]()
    file = _recipe(tmp_path, make_yolo, model, classes, min_teacher_precision=0.0)
    with pytest.raises(ConfigError, match=message):
        build_recipe(file, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "out").exists()


def test_a_close_teacher_name_is_suggested(
    tmp_path: Path, make_yolo: Callable[..., Path], make_model: Callable[..., Path]
) -> None:
    model = make_model(metadata={"names": str({0: "Plastic bag", 1: "Tent", 2: "Dog"})})
    file = _recipe(
        tmp_path,
        make_yolo,
        model,
        {"plastic bag": {"to": "garbage_bag", "conf": 0.3}},
        min_teacher_precision=0.0,
    )
    with pytest.raises(ConfigError, match=r"close: Plastic bag"):
        build_recipe(file)


def test_the_teachers_command_prints_the_table_sweeps_and_galleries(
    tmp_path: Path,
    make_yolo: Callable[..., Path],
    make_model: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    classes = {
        "a": {"to": "person", "conf": 0.3, "truth": WALL_TRUTH},
        "c": {"to": "dog", "conf": 0.2},
    }
    file = _recipe(tmp_path, make_yolo, make_model(), classes, min_teacher_precision=0.6)
    args = ["data", "teachers", str(file), "--cache", str(tmp_path / "cache")]
    assert main([*args, "--gallery", str(tmp_path / "g")]) == 0  # unmeasured classes: allowed
    out = capsys.readouterr().out
    assert "| tiny | c | dog | 0.2 | 10 | — | — | gallery | yes |" in out
    assert "tiny a sweep 0.2: 1.00 (6), 0.3: 1.00 (6)" in out
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["tiny-c.png"]
    assert not (tmp_path / "out").exists()  # measuring builds nothing
