"""Recipe builds: deterministic, reviewer labels win, bad recipes are clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from detection.data.recipe import build_recipe, load_recipe
from detection.errors import ConfigError
from detection.resources import REPO_ROOT
from detection.taxonomy import default_taxonomy
from tests.conftest import v1_slice_recipe


def _sources(tmp_path: Path, make_yolo: Callable[..., Path]) -> dict[str, Path]:
    labels = {f"g{i}": "0 0.5 0.5 0.2 0.2\n" for i in range(20)}
    trash = {f"t{i}": "1 0.2 0.2 0.3 0.6 0.1 0.6\n" for i in range(10)}
    return {
        "walls": make_yolo(tmp_path / "walls", labels, ["graffiti"]),
        "bags": make_yolo(tmp_path / "bags", trash, ["other", "general_trashbag"], seed=1000),
    }


def _recipe(tmp_path: Path, sources: dict[str, Path], **extra: object) -> Path:
    doc = {
        "name": "t",
        "out": str(tmp_path / "out"),
        "seed": 3,
        "sources": [
            {"name": "walls", "path": str(sources["walls"]), "classes": {"graffiti": "graffiti"}},
            {
                "name": "bags",
                "path": str(sources["bags"]),
                "classes": {"general_trashbag": "garbage_bag"},
            },
        ],
        **extra,
    }
    file = tmp_path / "recipe.yaml"
    file.write_text(yaml.safe_dump(doc))
    return file


def test_build_is_deterministic(tmp_path: Path, make_yolo: Callable[..., Path]) -> None:
    recipe = _recipe(tmp_path, _sources(tmp_path, make_yolo))
    first = build_recipe(recipe)
    second = build_recipe(recipe)
    assert first["labels_digest"] == second["labels_digest"]
    assert first["images"] == {"train": 24, "val": 3, "test": 3}
    assert first["dropped_classes"] == {}
    names = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())["names"]
    assert names == list(default_taxonomy().class_names)
    assert (tmp_path / "out" / "report.txt").read_text().strip() == "no issues found"


def test_reviews_override_source_labels(tmp_path: Path, make_yolo: Callable[..., Path]) -> None:
    sources = _sources(tmp_path, make_yolo)
    review = tmp_path / "review"
    (review / "images").mkdir(parents=True)
    (review / "labels").mkdir()
    (review / "images" / "g3.jpg").write_bytes(
        (sources["walls"] / "images" / "g3.jpg").read_bytes()
    )
    (review / "labels" / "g3.txt").write_text("1 0.5 0.5 0.4 0.4\n")  # reviewer: a poster
    (review / "data.yaml").write_text(yaml.safe_dump({"names": ["graffiti", "poster"]}))
    manifest = build_recipe(_recipe(tmp_path, sources, reviews=[str(review)]))
    entry = next(e for e in manifest["files"] if e["source"] == "review0")
    label = (tmp_path / "out" / "labels" / entry["split"] / entry["file"]).with_suffix(".txt")
    poster = default_taxonomy().class_names.index("poster")
    assert label.read_text().startswith(f"{poster} ")
    assert manifest["exact_duplicates_dropped"] == 1
    assert sum(manifest["images"].values()) == 30


def test_empty_source_is_reported(tmp_path: Path, make_yolo: Callable[..., Path]) -> None:
    sources = _sources(tmp_path, make_yolo)
    for label in (sources["bags"] / "labels").iterdir():
        label.write_text("")
    build_recipe(_recipe(tmp_path, sources))
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "source 'bags': all 10 label files are empty" in report


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sources": []}, "sources"),
        ({"seed": -1}, "seed"),
        ({"colour": "red"}, "colour"),
        ({"split": {"train": 0.9, "val": 0.2, "test": 0.1}}, "sum to 1"),
    ],
)
def test_invalid_recipe_names_file_and_field(
    tmp_path: Path, make_yolo: Callable[..., Path], change: dict[str, object], message: str
) -> None:
    file = _recipe(tmp_path, _sources(tmp_path, make_yolo))
    file.write_text(yaml.safe_dump({**yaml.safe_load(file.read_text()), **change}))
    with pytest.raises(ConfigError, match=message) as err:
        load_recipe(file)
    assert str(file) in str(err.value)


def test_mapping_to_unknown_class_names_recipe_and_source(
    tmp_path: Path, make_yolo: Callable[..., Path]
) -> None:
    file = _recipe(tmp_path, _sources(tmp_path, make_yolo))
    doc = yaml.safe_load(file.read_text())
    doc["sources"][0]["classes"] = {"graffiti": "tag"}
    file.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"source 'walls'.*'graffiti' maps to 'tag'"):
        build_recipe(file)
    assert not (tmp_path / "out").exists()


@pytest.mark.shared_data
@pytest.mark.slow
def test_v1_recipe_on_a_slice_of_shared(tmp_path: Path) -> None:
    """The real v1 recipe (teacher included) on 12 images per source, twice: same digest."""
    file = v1_slice_recipe(tmp_path, limit=12)
    first = build_recipe(file, cache_dir=tmp_path / "cache")
    assert sum(first["images"].values()) == 36
    assert {"graffiti", "garbage_bag"} <= set(first["boxes"]["train"])
    assert any(e["teacher_boxes"] for e in first["files"])
    assert "facades:window" in first["dropped_classes"] or first["dropped_classes"] == {}
    again = build_recipe(file, cache_dir=tmp_path / "cache")  # from the teacher cache
    assert again["labels_digest"] == first["labels_digest"]
    assert json.loads((tmp_path / "v1" / "manifest.json").read_text())["name"] == "v1"


def test_v2_recipe_passes_its_own_bar_and_keeps_every_decision() -> None:
    """Every teacher class of v2 is either used with a measured precision or left out with a
    reason; every target is a taxonomy class."""
    recipe = load_recipe(REPO_ROOT / "datasets" / "v2.yaml")
    names = set(default_taxonomy().class_names)
    classes = [c for t in recipe.teachers for c in t.classes.values()]
    assert {c.to for c in classes} <= names
    for cls in classes:
        assert (cls.use and cls.precision is not None and cls.precision >= 0.6) or cls.reason
    assert {s.name for s in recipe.sources} >= {"dogwaste", "cones", "facades"}
