"""``shirong data ...`` end to end on tiny folders: exit codes, reports, outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from detection.cli import main


def test_import_then_split_then_stats(
    tmp_path: Path, make_image: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    images = [make_image(tmp_path / "lm" / f"{i}.jpg", seed=i * 11) for i in range(10)]
    for image in images:
        shape = {"label": "trash", "shape_type": "rectangle", "points": [[5, 5], [30, 40]]}
        doc = {"imagePath": image.name, "imageWidth": 64, "imageHeight": 48, "shapes": [shape]}
        image.with_suffix(".json").write_text(json.dumps(doc))
    mapping = tmp_path / "map.yaml"
    mapping.write_text("trash: garbage_bag\n")
    flat = tmp_path / "flat"
    assert (
        main(
            [
                "data",
                "import",
                "labelme",
                str(tmp_path / "lm"),
                "--out",
                str(flat),
                "--source",
                "lm",
                "--mapping",
                str(mapping),
            ]
        )
        == 0
    )
    assert len(list((flat / "labels").glob("*.txt"))) == 10
    split = tmp_path / "split"
    assert main(["data", "split", str(flat), "--out", str(split), "--seed", "1"]) == 0
    assert yaml.safe_load((split / "data.yaml").read_text())["val"] == "images/val"
    assert main(["data", "stats", str(split)]) == 0
    out = capsys.readouterr().out
    assert '"garbage_bag": 10' in out
    assert (split / "stats.png").stat().st_size > 1000
    assert json.loads((split / "stats.json").read_text())["images"] == 10


def test_validate_prints_report_and_fails(
    tmp_path: Path, make_yolo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_yolo(
        tmp_path / "ds",
        {"a": "0 0.5 0.5 0.2 0.2\n", "b": "1 0.5 0.5 0.2 0.2\n"},
        ["graffiti", "blob"],
    )
    assert main(["data", "validate", str(root)]) == 1
    out = capsys.readouterr().out
    assert "b.jpg: unknown class 'blob'; box dropped" in out and "2 usable image(s)" in out


def test_merge_and_dedup(
    tmp_path: Path, make_yolo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a = make_yolo(tmp_path / "a", {"x": "0 0.5 0.5 0.2 0.2\n", "y": ""}, ["graffiti"])
    b = make_yolo(tmp_path / "b", {"x": "0 0.5 0.5 0.2 0.2\n"}, ["graffiti"])  # same pixels as a/x
    assert main(["data", "merge", str(a), str(b), "--out", str(tmp_path / "m")]) == 0
    assert "exact duplicate of" in capsys.readouterr().out
    assert main(["data", "dedup", str(tmp_path / "m")]) == 0
    assert "0 exact duplicate(s)" in capsys.readouterr().out


def test_bad_mapping_is_a_clean_cli_error(
    tmp_path: Path, make_yolo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_yolo(tmp_path / "ds", {"a": "0 0.5 0.5 0.2 0.2\n"}, ["graffiti"])
    mapping = tmp_path / "map.yaml"
    mapping.write_text("graffiti: tags\n")
    args = [
        "data",
        "import",
        "yolo",
        str(root),
        "--out",
        str(tmp_path / "o"),
        "--mapping",
        str(mapping),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "shirong data: error:" in err and str(mapping) in err and "'tags'" in err
