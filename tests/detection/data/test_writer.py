"""Atomic dataset writing: a failure half-way leaves the previous dataset untouched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from detection.data.checks import validate
from detection.data.samples import Box, ImportResult, Sample
from detection.data.writer import atomic_dir, write_yolo_dataset
from detection.errors import InputError
from detection.taxonomy import default_taxonomy


def test_atomic_dir_replaces_on_success_and_keeps_old_on_error(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    with atomic_dir(out) as tmp:
        (tmp / "v").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "v").write_text("2")
        raise RuntimeError("disk full")
    assert (out / "v").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temp or old folders left


def _result(tmp_path: Path, make_image: Callable[..., Path], label: str) -> ImportResult:
    samples = [
        Sample(
            make_image(tmp_path / "src" / f"{i}.jpg", seed=i),
            (Box(label, 0.1, 0.1, 0.4, 0.5),),
            "s",
        )
        for i in range(3)
    ]
    return ImportResult(samples=samples)


def test_write_dataset_layout_names_and_labels(
    tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    result = _result(tmp_path, make_image, "garbage_bag")
    infos = validate(result, frozenset(default_taxonomy().class_names))
    names = default_taxonomy().class_names
    manifest = write_yolo_dataset(
        tmp_path / "ds", result.samples, ["train", "val", "test"], infos, names, {"name": "t"}
    )
    data = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    assert data["names"] == list(names) and data["test"] == "images/test"
    assert manifest["images"] == {"train": 1, "val": 1, "test": 1}
    label = (tmp_path / "ds" / "labels" / "val" / "s__1.txt").read_text()
    assert label == f"{names.index('garbage_bag')} 0.250000 0.300000 0.300000 0.400000\n"


def test_failed_write_leaves_previous_dataset(
    tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    names = default_taxonomy().class_names
    good = _result(tmp_path, make_image, "graffiti")
    infos = validate(good, frozenset(names))
    out = tmp_path / "ds"
    first = write_yolo_dataset(out, good.samples, ["train"] * 3, infos, names, {})
    bad = [*good.samples[:2], good.samples[2].with_boxes([Box("not_a_class", 0, 0, 1, 1)])]
    with pytest.raises(InputError, match="not_a_class"):
        write_yolo_dataset(out, bad, ["train"] * 3, infos, names, {})
    assert (out / "manifest.json").is_file()
    assert len(list((out / "labels" / "train").iterdir())) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "src"]
    assert first["labels_digest"]
