"""Validation: each bad image or box is reported by file and dropped; good data stays usable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from detection.data.checks import check_box, dhash, read_image, validate
from detection.data.samples import Box, ImportResult, Sample, Severity, format_report
from detection.data.yolo import import_yolo

KNOWN = frozenset({"graffiti", "garbage_bag"})


@pytest.mark.parametrize(
    ("box", "kept", "message"),
    [
        (Box("graffiti", 0.1, 0.1, 0.5, 0.5), Box("graffiti", 0.1, 0.1, 0.5, 0.5), None),
        (Box("graffiti", -0.005, 0.1, 0.5, 1.004), Box("graffiti", 0.0, 0.1, 0.5, 1.0), None),
        (Box("graffiti", -0.2, 0.1, 0.5, 0.5), Box("graffiti", 0.0, 0.1, 0.5, 0.5), "clipped"),
        (Box("graffiti", 1.2, 0.1, 1.5, 0.5), None, "is outside the image"),
        (Box("graffiti", 0.5, 0.5, 0.4, 0.6), None, "is degenerate"),
        (Box("graffiti", 0.5, 0.5, 0.5002, 0.6), None, "too small"),
        (Box("poster_x", 0.1, 0.1, 0.5, 0.5), None, "unknown class 'poster_x'"),
    ],
)
def test_check_box(box: Box, kept: Box | None, message: str | None) -> None:
    fixed, msg = check_box(box, KNOWN)
    assert fixed == kept
    assert (msg is None) if message is None else (msg is not None and message in msg)


def test_validate_reports_each_file_and_keeps_good_data(
    tmp_path: Path, make_yolo: Callable[..., Path]
) -> None:
    root = make_yolo(
        tmp_path,
        {
            "good": "0 0.5 0.5 0.2 0.2\n",
            "outside": "0 1.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n",
            "unknown": "1 0.5 0.5 0.2 0.2\n",
            "corrupt": "0 0.5 0.5 0.2 0.2\n",
            "unlabelled": None,
        },
        ["graffiti", "flyer"],
    )
    (root / "images" / "corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    result = import_yolo(root, "src")
    infos = validate(result, KNOWN)
    report = format_report(result.issues)
    assert sorted(s.image.name for s in result.samples) == [
        "good.jpg",
        "outside.jpg",
        "unknown.jpg",
    ]
    assert set(infos) == {s.image for s in result.samples}
    boxes = {s.image.name: len(s.boxes) for s in result.samples}
    assert boxes == {"good.jpg": 1, "outside.jpg": 1, "unknown.jpg": 0}
    for name, words in [
        ("corrupt.jpg", "corrupt or unsupported image"),
        ("outside.jpg", "is outside the image; box dropped"),
        ("unknown.jpg", "unknown class 'flyer'"),
        ("unlabelled.jpg", "missing label file"),
    ]:
        assert any(name in line and words in line for line in report.splitlines()), name
    assert report.startswith("4 issue(s): 4 error(s), 0 warning(s)")
    assert all(i.severity is Severity.ERROR for i in result.issues)


def test_dhash_survives_reencoding_but_separates_different_images(
    tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    a = read_image(make_image(tmp_path / "a.png", seed=1, size=(200, 150)))[0]
    b = read_image(make_image(tmp_path / "b.jpg", seed=1, size=(120, 90)))[0]
    c = read_image(make_image(tmp_path / "c.png", seed=2, size=(200, 150)))[0]
    assert a is not None and b is not None and c is not None
    assert bin(dhash(a) ^ dhash(b)).count("1") <= 6
    assert bin(dhash(a) ^ dhash(c)).count("1") > 12


def test_empty_result_validates_to_nothing() -> None:
    result = ImportResult(samples=[])
    assert validate(result, KNOWN) == {}
    assert format_report(result.issues) == "no issues found"


def test_missing_image_file_is_reported(tmp_path: Path) -> None:
    result = ImportResult(samples=[Sample(tmp_path / "gone.jpg", (), "src")])
    validate(result, KNOWN)
    assert result.samples == [] and "gone.jpg: cannot read image" in str(result.issues[0])
