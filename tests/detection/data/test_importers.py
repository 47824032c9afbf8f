"""Every importer on tiny hand-made files: boxes come out normalised xyxy with source names."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from detection.data.importers import IMPORTERS
from detection.data.samples import Box, ImportResult
from detection.data.yolo import import_yolo, read_class_names
from detection.errors import InputError

W, H = 64, 48  # make_image default size


def _yolo(root: Path, make_image: Callable[..., Path]) -> tuple[Path, Path | None]:
    make_image(root / "images" / "a.jpg")
    (root / "labels").mkdir()
    # one box and one YOLO-seg polygon (a triangle)
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.5 0.5\n1 0.1 0.2 0.3 0.2 0.2 0.6\n")
    (root / "classes.json").write_text('["cat", "dog"]')
    return root, None


def _coco(root: Path, make_image: Callable[..., Path]) -> tuple[Path, Path | None]:
    make_image(root / "images" / "a.jpg")
    doc = {
        "images": [{"id": 7, "file_name": "a.jpg", "width": W, "height": H}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 3, "bbox": [16, 12, 32, 24]},
            {"id": 2, "image_id": 7, "category_id": 4, "bbox": [6.4, 9.6, 12.8, 19.2]},
        ],
        "categories": [{"id": 3, "name": "cat"}, {"id": 4, "name": "dog"}],
    }
    (root / "ann.json").write_text(json.dumps(doc))
    return root / "ann.json", None


def _voc(root: Path, make_image: Callable[..., Path]) -> tuple[Path, Path | None]:
    make_image(root / "JPEGImages" / "a.jpg")
    (root / "Annotations").mkdir()
    objects = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin>"
        f"<xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>"
        for n, a, b, c, d in (("cat", 16, 12, 48, 36), ("dog", 6.4, 9.6, 19.2, 28.8))
    )
    size = f"<size><width>{W}</width><height>{H}</height></size>"
    xml = f"<annotation><filename>a.jpg</filename>{size}{objects}</annotation>"
    (root / "Annotations" / "a.xml").write_text(xml)
    return root, None


def _labelme(root: Path, make_image: Callable[..., Path]) -> tuple[Path, Path | None]:
    make_image(root / "a.jpg")
    doc = {
        "imagePath": "a.jpg",
        "imageWidth": W,
        "imageHeight": H,
        "shapes": [
            {"label": "cat", "shape_type": "rectangle", "points": [[48, 36], [16, 12]]},
            {
                "label": "dog",
                "shape_type": "polygon",
                "points": [[6.4, 9.6], [19.2, 9.6], [12.8, 28.8]],
            },
        ],
    }
    (root / "a.json").write_text(json.dumps(doc))
    return root, None


def _labelstudio(root: Path, make_image: Callable[..., Path]) -> tuple[Path, Path | None]:
    make_image(root / "imgs" / "a.jpg")
    results = [
        {
            "type": "rectanglelabels",
            "value": {"x": 25, "y": 25, "width": 50, "height": 50, "rectanglelabels": ["cat"]},
        },
        {
            "type": "polygonlabels",
            "value": {"points": [[10, 20], [30, 20], [20, 60]], "polygonlabels": ["dog"]},
        },
    ]
    tasks = [
        {"id": 1, "data": {"image": "/data/upload/1/a.jpg"}, "annotations": [{"result": results}]}
    ]
    (root / "export.json").write_text(json.dumps(tasks))
    return root / "export.json", root / "imgs"


def _cvat(root: Path, make_image: Callable[..., Path]) -> tuple[Path, Path | None]:
    make_image(root / "images" / "a.jpg")
    xml = (
        f'<annotations><version>1.1</version><image id="0" name="a.jpg" width="{W}" height="{H}">'
        '<box label="cat" xtl="16" ytl="12" xbr="48" ybr="36" occluded="0"/>'
        '<polygon label="dog" points="6.4,9.6;19.2,9.6;12.8,28.8"/></image></annotations>'
    )
    (root / "annotations.xml").write_text(xml)
    return root / "annotations.xml", None


CASES = {
    "yolo": _yolo,
    "coco": _coco,
    "voc": _voc,
    "labelme": _labelme,
    "labelstudio": _labelstudio,
    "cvat": _cvat,
}
EXPECTED = [Box("cat", 0.25, 0.25, 0.75, 0.75), Box("dog", 0.1, 0.2, 0.3, 0.6)]


def _close(result: ImportResult) -> list[tuple[str, list[float]]]:
    boxes = result.samples[0].boxes
    return [(b.label, [round(v, 4) for v in (b.x1, b.y1, b.x2, b.y2)]) for b in boxes]


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_importer_reads_boxes_and_polygons(
    fmt: str, tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    path, images = CASES[fmt](tmp_path, make_image)
    result = IMPORTERS[fmt](path, "src", images)
    assert result.issues == []
    assert len(result.samples) == 1 and result.samples[0].source == "src"
    assert result.samples[0].image.is_file()
    assert _close(result) == [(b.label, [b.x1, b.y1, b.x2, b.y2]) for b in EXPECTED]


@pytest.mark.parametrize("fmt", sorted(set(CASES) - {"yolo", "voc", "labelme"}))
def test_missing_image_is_reported_not_fatal(
    fmt: str, tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    path, images = CASES[fmt](tmp_path, make_image)
    for image in tmp_path.rglob("a.jpg"):
        image.unlink()
    result = IMPORTERS[fmt](path, "src", images)
    assert result.samples == []
    assert len(result.issues) == 1 and "image 'a.jpg' not found" in result.issues[0].message


def test_yolo_reports_missing_label_file_and_bad_lines(
    tmp_path: Path, make_yolo: Callable[..., Path]
) -> None:
    root = make_yolo(
        tmp_path,
        {"ok": "0 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.1 0.1\nx y\n0 0.5 0.5", "nolabel": None},
        ["cat"],
    )
    result = import_yolo(root, "src")
    messages = [str(i) for i in result.issues]
    assert [s.image.name for s in result.samples] == ["ok.jpg"]
    assert len(result.samples[0].boxes) == 1
    assert any("nolabel.jpg" in m and "missing label file" in m for m in messages)
    assert any("ok.txt: line 2: unknown class id 5" in m for m in messages)
    assert any("ok.txt: line 3: not numbers" in m for m in messages)
    assert any("ok.txt: line 4: expected 4 box values" in m for m in messages)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"classes.json": '["a", "b"]'}, ("a", "b")),
        ({"classes.json": '{"1": "b", "0": "a"}'}, ("a", "b")),
        ({"data.yaml": "names: {0: a, 1: b}"}, ("a", "b")),
        ({"data.yaml": "names: [a, b]"}, ("a", "b")),
    ],
)
def test_class_names_from_json_or_yaml(
    tmp_path: Path, files: dict[str, str], expected: tuple[str, ...]
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert read_class_names(tmp_path) == expected


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no classes.json or data.yaml"),
        ({"classes.json": '{"0": "a", "2": "b"}'}, "without gaps"),
        ({"classes.json": "[1, 2]"}, "must be a list"),
        ({"classes.json": "{not json"}, "cannot read class names"),
    ],
)
def test_bad_class_names_name_the_file(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message) as err:
        read_class_names(tmp_path)
    assert str(tmp_path) in str(err.value)


@pytest.mark.parametrize(
    ("fmt", "name", "text", "message"),
    [
        ("coco", "a.json", "{}", "not a COCO file"),
        ("coco", "a.json", "{oops", "cannot read annotation file"),
        ("labelstudio", "a.json", "{}", "list of tasks"),
        ("cvat", "a.xml", "<annotations>", "cannot read annotation file"),
    ],
)
def test_unreadable_annotation_files_raise_naming_the_file(
    tmp_path: Path, fmt: str, name: str, text: str, message: str
) -> None:
    file = tmp_path / name
    file.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        IMPORTERS[fmt](file, "src", None)
    assert str(file) in str(err.value)
