"""The text reader on rendered flyers and banners warped onto walls, and on frames with no text
or that the OCR fails on."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.core import Detections, box_coverage
from detection.errors import MissingExtraError
from detection.taxonomy import default_taxonomy
from detection.text import ReaderConfig, TextReader, phone_numbers, text_candidates
from tests.conftest import SHARED
from tests.detection.text.conftest import banner, brick_wall, flyer, frame_of, render, warp_onto

rapidocr_onnxruntime = pytest.importorskip("rapidocr_onnxruntime")

PHONE = "138 0013 8000"
FLYER_CORNERS = [(120, 140), (470, 170), (460, 430), (110, 420)]  # a sheet seen at an angle
BANNER_CORNERS = [(80, 560), (950, 540), (955, 640), (85, 660)]


def candidates(reader: TextReader, image: np.ndarray) -> Detections:
    frame = frame_of(image)
    none = Detections.empty(default_taxonomy().class_names)
    return text_candidates(frame, reader.read(image), none, default_taxonomy())


def test_flyer_on_a_wall_gives_a_poster_with_its_phone_number(reader: TextReader) -> None:
    image = warp_onto(brick_wall(), flyer(PHONE), FLYER_CORNERS)
    found = candidates(reader, image)
    assert found.class_name == ["poster"]
    assert found.texts is not None
    assert phone_numbers(found.texts[0]) == ["13800138000"]
    # The poster's box is the sheet's print, inside the sheet's corners.
    assert box_coverage(found.xyxy, [[110, 140, 470, 430]])[0, 0] == pytest.approx(1.0)


def test_red_banner_with_white_text_gives_a_banner(reader: TextReader) -> None:
    image = warp_onto(brick_wall(), flyer(PHONE), FLYER_CORNERS)
    image = warp_onto(image, banner("热烈庆祝开业大吉全场八折"), BANNER_CORNERS)
    found = candidates(reader, image)
    assert sorted(found.class_name) == ["banner", "poster"]
    assert found.texts is not None
    banner_text = found.texts[found.class_name.index("banner")]
    assert "开业大吉" in banner_text


def test_wide_line_on_white_is_no_banner(reader: TextReader) -> None:
    """As long as a banner's line, but red print on white paper: a flyer's line, not cloth."""
    sheet = render(["热烈庆祝开业大吉全场八折"], ground=(250, 250, 250), ink=(200, 20, 30), size=56)
    found = candidates(reader, warp_onto(brick_wall(), sheet, BANNER_CORNERS))
    assert found.class_name == ["poster"]


@pytest.mark.parametrize("max_side", [640, 1024])
def test_reads_the_number_at_both_sizes(max_side: int) -> None:
    """The sizes docs/benchmarks/ocr.md measures both read a flyer at this range."""
    image = cv2.resize(warp_onto(brick_wall(), flyer(PHONE), FLYER_CORNERS), (1600, 1200))
    regions = TextReader(ReaderConfig(max_side=max_side)).read(image)
    assert "13800138000" in [n for r in regions for n in phone_numbers(r.text)]
    # Boxes come back in the frame's pixels, not the scaled-down ones.
    assert max(r.xyxy[2] for r in regions) > 640


def test_locate_finds_the_lines_without_reading_them(reader: TextReader) -> None:
    image = warp_onto(brick_wall(), flyer(PHONE), FLYER_CORNERS)
    quads = reader.locate(image)
    assert quads.shape == (3, 4, 2)
    assert reader.locate(brick_wall()).shape == (0, 4, 2)


@pytest.mark.parametrize(
    "image",
    [
        brick_wall(),
        np.zeros((480, 640, 3), np.uint8),
        np.full((1, 1, 3), 255, np.uint8),
        np.full((2, 5000, 3), 128, np.uint8),
    ],
    ids=["wall", "black", "one-pixel", "sliver"],
)
def test_no_text_is_an_empty_result(reader: TextReader, image: np.ndarray) -> None:
    assert reader.read(image) == []
    assert len(candidates(reader, image)) == 0


def test_not_an_image_is_refused(reader: TextReader) -> None:
    with pytest.raises(ValueError, match=r"TextReader needs an H×W×3 uint8 image, got \(4, 4\)"):
        reader.read(np.zeros((4, 4), np.uint8))


def test_ocr_failure_is_an_empty_result_logged_once_per_source(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A real OCR engine that fails on every frame: its text detector is the angle classifier's
    model, whose output the detector's post-processing cannot read."""
    reader = TextReader()
    wrong = (
        Path(rapidocr_onnxruntime.__file__).parent / "models/ch_ppocr_mobile_v2.0_cls_infer.onnx"
    )
    reader._ocr = rapidocr_onnxruntime.RapidOCR(det_model_path=str(wrong))
    image = warp_onto(brick_wall(), flyer(PHONE), FLYER_CORNERS)
    with caplog.at_level(logging.DEBUG, logger="detection.text.reader"):
        for _ in range(3):
            assert reader.read(image, "cam-1") == []
            assert reader.locate(image, "cam-1").shape == (0, 4, 2)
        assert reader.read(image, "cam-2") == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in warnings] == [
        "OCR failed on a frame of cam-1",
        "OCR failed on a frame of cam-2",
    ]
    assert "its frames go on without text" in warnings[0].getMessage()
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 5


@pytest.mark.shared_data
def test_flyer_and_banner_on_a_graffiti_wall_photo(reader: TextReader) -> None:
    photo = sorted((SHARED / "data/graffiti/images").glob("*.jpg"))[0]
    wall = cv2.resize(cv2.imread(str(photo)), (1024, 768))
    image = warp_onto(wall, flyer("0532-8888 8888"), FLYER_CORNERS)
    image = warp_onto(image, banner("热烈庆祝开业大吉全场八折"), BANNER_CORNERS)
    found = candidates(reader, image)
    texts = found.of_classes(["poster"]).texts or ()
    assert "0532-88888888" in [n for t in texts for n in phone_numbers(t)]
    assert "开业大吉" in "".join(found.of_classes(["banner"]).texts or ())


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # as if not installed
    with pytest.raises(
        MissingExtraError, match=r"part of the 'ocr' extra: pip install -e '\.\[ocr\]'"
    ):
        TextReader()
