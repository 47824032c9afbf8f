"""Text regions → poster and banner candidates: hosts, flyers, banners, the config's checks; and
real shop fronts, whose signboards' text is never a poster."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from detection.core import Detections
from detection.errors import ConfigError
from detection.taxonomy import default_taxonomy
from detection.text import (
    MODEL_TAG,
    CandidateConfig,
    TextReader,
    TextRegion,
    text_candidates,
    with_candidates,
)
from tests.conftest import SHARED
from tests.detection.text.conftest import frame_of

TAXONOMY = default_taxonomy()
GREY = frame_of(np.full((600, 800, 3), 128, np.uint8))


def region(x1: float, y1: float, x2: float, y2: float, text: str, score: float = 0.9) -> TextRegion:
    quad = np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    return TextRegion(quad, text, score)


def boxes(rows: Sequence[tuple[str, Sequence[float]]]) -> Detections:
    names = TAXONOMY.class_names
    return Detections.from_arrays(
        [b for _, b in rows], [0.8] * len(rows), [names.index(n) for n, _ in rows], names
    )


def test_taxonomy_has_the_classes_and_clauses() -> None:
    assert TAXONOMY.cls("poster").clauses == ("2a",)
    assert TAXONOMY.cls("banner").clauses == ("5a",)
    assert {"signboard", "window_ad"} <= set(TAXONOMY.class_names)


def test_text_inside_a_signboard_or_window_ad_is_no_candidate() -> None:
    regions = [
        region(110, 110, 290, 140, "老王理发店"),  # on the signboard
        region(510, 310, 590, 330, "全场五折"),  # on the shop window's advertising
        region(300, 120, 420, 150, "专业开锁"),  # a quarter on the signboard, mostly off it
    ]
    hosts = boxes([("signboard", (100, 100, 330, 150)), ("window_ad", (500, 300, 600, 340))])
    found = text_candidates(GREY, regions, hosts, TAXONOMY)
    assert found.class_name == ["poster"]
    assert found.texts == ("专业开锁",)


def test_lines_of_one_flyer_are_one_poster_and_flyers_apart_are_two() -> None:
    regions = [
        region(100, 100, 260, 130, "专业疏通"),
        region(100, 140, 300, 170, "电话 13800138000"),
        region(500, 100, 640, 130, "高价回收"),  # another flyer, far to the right
    ]
    found = text_candidates(GREY, regions, boxes([]), TAXONOMY)
    assert found.class_name == ["poster", "poster"]
    assert found.texts == ("专业疏通\n电话 13800138000", "高价回收")
    np.testing.assert_allclose(found.xyxy[0], [100, 100, 300, 170])
    np.testing.assert_allclose(found.confidence, [0.9, 0.9], rtol=1e-6)


def test_banner_needs_a_wide_line_on_strong_colour() -> None:
    image = np.full((600, 800, 3), 128, np.uint8)
    image[100:160, 50:750] = (30, 20, 200)  # red cloth (BGR)
    image[300:360, 50:200] = (30, 20, 200)  # red, but a short line
    regions = [region(60, 110, 740, 150, "热烈庆祝"), region(60, 310, 190, 350, "红纸")]
    found = text_candidates(frame_of(image), regions, boxes([]), TAXONOMY)
    assert found.class_name == ["banner", "poster"]
    # The banner's box is the strip around its line: grown by half the line's height.
    np.testing.assert_allclose(found.xyxy[0], [40, 90, 760, 170])


def test_no_regions_is_an_empty_result() -> None:
    found = text_candidates(GREY, [], boxes([("signboard", (0, 0, 10, 10))]), TAXONOMY)
    assert len(found) == 0
    assert found.texts == ()


def test_candidates_join_the_detector_boxes() -> None:
    detector = Detections.from_arrays([[0, 0, 50, 50]], [0.7], [1], ["car", "dog"], track_id=[4])
    found = text_candidates(GREY, [region(100, 100, 200, 130, "开锁")], detector, TAXONOMY)
    both = with_candidates(detector, found)
    assert both.class_name == ["dog", "poster"]
    assert both.names == ("car", "dog", "poster")
    assert both.texts == ("", "开锁")
    assert both.track_id is not None and both.track_id.tolist() == [4, -1]
    assert [r.get("text") for r in both.to_records()] == [None, "开锁"]


def test_candidates_are_tagged_by_the_reader_beside_the_set_models() -> None:
    detector = Detections.from_arrays(
        [[0, 0, 50, 50]], [0.7], [1], ["car", "dog"], model=["coco-context"]
    )
    found = text_candidates(GREY, [region(100, 100, 200, 130, "开锁")], detector, TAXONOMY)
    assert found.model == (MODEL_TAG,) == ("text-reader",)
    both = with_candidates(detector, found)
    assert both.model == ("coco-context", "text-reader")
    assert [r["model"] for r in both.to_records()] == ["coco-context", "text-reader"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (CandidateConfig(poster="flyer"), "text candidates name classes the taxonomy lacks: flyer"),
        (
            CandidateConfig(hosts=("signboard", "shopfront", "awning")),
            "text candidates name classes the taxonomy lacks: shopfront, awning",
        ),
    ],
)
def test_classes_the_taxonomy_lacks_are_refused(config: CandidateConfig, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        text_candidates(GREY, [], boxes([]), TAXONOMY, config)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"banner": "poster"}, "poster, banner and the host classes must be different classes"),
        ({"hosts": ("poster",)}, "poster, banner and the host classes must be different classes"),
        ({"banner_aspect": 1.0}, "greater than 1"),
        ({"inside": 0}, "greater than 0"),
        ({"colour": 1}, "Extra inputs are not permitted"),
    ],
)
def test_config_is_validated(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CandidateConfig.model_validate(fields)


# Shop fronts whose signboards and window advertising are labelled, and whose text the reader
# reads (Cyrillic and Latin shop names): all of it is inside the labelled boxes.
FACADES = ("img_73", "img_111", "img_210", "img_100")
FACADE_CLASSES = {3: "signboard", 4: "window_ad"}  # ../shared/data/facades/classes.json


@pytest.mark.shared_data
@pytest.mark.parametrize("stem", FACADES)
def test_no_poster_from_signboards_on_real_shop_fronts(reader: TextReader, stem: str) -> None:
    root = SHARED / "data" / "facades"
    image = cv2.imread(str(root / "images" / f"{stem}.jpg"))
    h, w = image.shape[:2]
    labelled = []
    for line in (root / "labels" / f"{stem}.txt").read_text().splitlines():
        cls, cx, cy, bw, bh = line.split()
        if int(cls) in FACADE_CLASSES:
            x, y, bw_, bh_ = float(cx) * w, float(cy) * h, float(bw) * w, float(bh) * h
            box = (x - bw_ / 2, y - bh_ / 2, x + bw_ / 2, y + bh_ / 2)
            labelled.append((FACADE_CLASSES[int(cls)], box))
    regions = reader.read(image)
    assert len(regions) >= 3, "the reader must read the signs for this test to mean anything"
    found = text_candidates(frame_of(image), regions, boxes(labelled), TAXONOMY)
    assert "poster" not in found.class_name
    # Without the signboards the same text would be posters: the hosts are what keeps them out.
    alone = text_candidates(frame_of(image), regions, boxes([]), TAXONOMY)
    assert "poster" in alone.class_name
