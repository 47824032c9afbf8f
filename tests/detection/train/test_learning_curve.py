"""Learning-curve points: N images of a class from the train split, the same test split."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from detection.data.recipe import build_recipe
from detection.errors import InputError
from detection.train.config import TrainConfig
from detection.train.evaluate import split_images
from detection.train.learning_curve import (
    Point,
    capped,
    images_with,
    load_points,
    point,
    study,
    subset,
)
from tests.conftest import COCO_PT, tiny_train_config, v1_slice_recipe


def _built(root: Path) -> Path:
    """A built-dataset layout: 6 train images (4 with class 1), 2 test images."""
    for split, rows in {"train": ["1", "0", "1 ", "1", "", "1\n0"], "test": ["1", "0"]}.items():
        for i, classes in enumerate(rows):
            image = root / "images" / split / f"{split}{i}.jpg"
            image.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(image), np.full((48, 64, 3), 40 * i, np.uint8))
            lines = [f"{c.strip()} 0.5 0.5 0.2 0.2" for c in classes.split("\n") if c.strip()]
            label = root / "labels" / split / f"{split}{i}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("\n".join(lines))
    doc = {"train": "images/train", "val": "images/test", "test": "images/test", "nc": 2}
    (root / "data.yaml").write_text(yaml.safe_dump({**doc, "names": ["graffiti", "traffic_cone"]}))
    return root / "data.yaml"


def test_subset_draws_n_images_holding_the_class_per_seed(tmp_path: Path) -> None:
    data = _built(tmp_path / "ds")
    assert [p.name for p in images_with(data, "train", "traffic_cone")] == [
        "train0.jpg",
        "train2.jpg",
        "train3.jpg",
        "train5.jpg",
    ]
    a = subset(data, "traffic_cone", 2, seed=1, out=tmp_path / "a")
    again = subset(data, "traffic_cone", 2, seed=1, out=tmp_path / "b")
    picked = split_images(a, "train")[1]
    assert picked == split_images(again, "train")[1] and len(picked) == 2
    assert split_images(a, "test") == split_images(data, "test")  # the same test split


@pytest.mark.parametrize(
    ("cls", "n", "message"),
    [
        ("traffic_cone", 5, r"only 4 train images hold 'traffic_cone', 5 asked"),
        ("window_ad", 1, r"no class 'window_ad' \(classes: graffiti, traffic_cone\)"),
    ],
)
def test_a_subset_that_cannot_be_drawn_names_the_dataset(
    tmp_path: Path, cls: str, n: int, message: str
) -> None:
    data = _built(tmp_path / "ds")
    with pytest.raises(InputError, match=message) as err:
        subset(data, cls, n, seed=0, out=tmp_path / "s")
    assert str(data) in str(err.value)


@pytest.mark.slow
@pytest.mark.shared_data
def test_one_point_trains_scores_and_times(tmp_path: Path) -> None:
    build_recipe(
        v1_slice_recipe(tmp_path, limit=8, split={"train": 0.5, "val": 0.25, "test": 0.25})
    )
    data = tmp_path / "v1" / "data.yaml"
    template = tiny_train_config(tmp_path, data, name="lc", val=False)
    got = point(template, COCO_PT, data, "garbage_bag", 2, seed=0)
    assert (got.cls, got.images, got.seed) == ("garbage_bag", 2, 0)
    assert 0.0 <= got.map50 <= 1.0 and got.cpu_s > 0 and got.wall_s > 0


def test_a_study_continues_from_its_saved_points(tmp_path: Path) -> None:
    """Points already saved are not trained again (a session's end cuts a study, not loses it)."""
    saved = [Point("traffic_cone", n, 0, 0.1 * n, 0.2, 60.0 * n, 30.0 * n) for n in (2, 4)]
    out = tmp_path / "curve.json"
    out.write_text(json.dumps([asdict(p) for p in saved]))
    data, base = tmp_path / "nope.yaml", tmp_path / "b.pt"
    template = TrainConfig(name="lc", data=data, base=base, epochs=1)
    assert study(template, base, data, ["traffic_cone"], [2, 4], [0], out) == saved
    out.write_text('[{"cls": 1}]')
    with pytest.raises(InputError, match=r"curve\.json: not a learning-curve result file"):
        load_points(out)


@pytest.mark.parametrize(
    ("counts", "available", "expected"),
    [
        ([25, 50, 100, 200], 472, [25, 50, 100, 200]),
        ([25, 50, 100, 200], 172, [25, 50, 100, 172]),  # traffic_cone in v2: all of them last
        ([25, 50, 100, 200], 100, [25, 50, 100]),
        ([25, 50], 10, [10]),
    ],
)
def test_counts_are_capped_by_the_images_a_class_has(
    counts: list[int], available: int, expected: list[int]
) -> None:
    assert capped(counts, available) == expected
