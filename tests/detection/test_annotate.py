from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFont

from detection.annotate import (
    Annotator,
    AnnotatorConfig,
    annotate,
    class_color,
    draw_polygons,
    find_cjk_font,
    has_glyphs,
)
from detection.core import Detections
from detection.errors import InputError
from detection.taxonomy import default_taxonomy

NAMES = ("person", "dining table", "truck", "dog")
BOX = (100, 100, 200, 180)


def dets(names: tuple[str, ...] = NAMES, cls: int = 0, track: int | None = 12) -> Detections:
    d = Detections.from_arrays([BOX], [0.87], [cls], names)
    return d if track is None else d.with_track_ids([track])


def black(h: int = 240, w: int = 320) -> np.ndarray:
    return np.zeros((h, w, 3), np.uint8)


@pytest.fixture(scope="module")
def cjk() -> Annotator:
    if find_cjk_font() is None:
        pytest.skip("no CJK font installed (apt install fonts-noto-cjk)")
    return Annotator(AnnotatorConfig(font_size=16, thickness=1))


@pytest.fixture(scope="module")
def latin_font() -> Path:
    """A real font without Chinese glyphs."""
    for path in (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path(sys.prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}")
        / "site-packages/matplotlib/mpl-data/fonts/ttf/DejaVuSans.ttf",
    ):
        if path.is_file():
            return path
    pytest.skip("no DejaVuSans.ttf on this machine")


@pytest.mark.parametrize(
    ("config", "detections", "expected"),
    [
        ({}, dets(), "行人 0.87 #12"),
        ({}, dets(track=-1), "行人 0.87"),
        ({}, dets(track=None), "行人 0.87"),
        ({"show_confidence": False}, dets(), "行人 #12"),
        ({"show_track_id": False}, dets(), "行人 0.87"),
        ({}, dets(cls=1), "桌子 0.87 #12"),  # COCO name of a taxonomy class
        ({}, dets(("dining_table",), track=3), "桌子 0.87 #3"),  # taxonomy name
        ({}, dets(cls=2), "truck 0.87 #12"),  # not in the taxonomy: raw name
    ],
)
def test_label_text(cjk: Annotator, config: dict, detections: Detections, expected: str) -> None:
    annotator = Annotator(AnnotatorConfig(**config)) if config else cjk
    assert annotator.labels(detections) == [expected]


def test_chinese_glyphs_are_not_tofu(cjk: Annotator) -> None:
    assert cjk.cjk
    assert has_glyphs(cjk.font(16), "行人 桌子 犬只")
    assert not has_glyphs(cjk.font(16), "\U0010fffd")
    assert not has_glyphs(ImageFont.load_default(16), "行人")  # the check can fail
    assert has_glyphs(ImageFont.load_default(16), "person")


def test_labels_drawn_above_the_box(cjk: Annotator) -> None:
    labelled = cjk.annotate(black(), dets())
    bare = Annotator(AnnotatorConfig(show_labels=False, thickness=1)).annotate(black(), dets())
    rows, cols = np.nonzero((labelled != bare).any(axis=2))
    assert rows.size > 200
    assert rows.max() <= BOX[1] and rows.min() >= BOX[1] - 30 and cols.min() == BOX[0]
    glyph = (labelled[rows, cols] != class_color("person")).any(axis=1)
    assert 20 < glyph.sum() < rows.size / 2  # text pixels on the coloured background
    assert not bare[BOX[1] + 5 : BOX[3] - 5, BOX[0] + 5 : BOX[2] - 5].any()  # interior untouched


def test_label_of_a_box_at_the_top_edge_stays_in_the_frame(cjk: Annotator) -> None:
    d = Detections.from_arrays([[10, 0, 60, 50]], [0.9], [0], NAMES)
    out = cjk.annotate(black(), d)
    assert out[2:18, 12:40].any()


def test_colours_stable_and_distinct(cjk: Annotator) -> None:
    tax = default_taxonomy()
    colours = [class_color(n, tax) for n in tax.class_names]
    assert len(set(colours)) == len(colours)
    assert class_color("dining table") == class_color("dining_table")
    assert cjk.color("person") == Annotator().color("person") == class_color("person")
    d = dets(cls=3)
    out = cjk.annotate(black(), d)
    assert tuple(int(v) for v in out[BOX[3], (BOX[0] + BOX[2]) // 2]) == class_color("dog")


def test_colours_do_not_depend_on_the_process() -> None:
    """Python's str hash is salted per process; colours must not be."""
    code = "from detection.annotate import class_color; print(class_color('excavator'))"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
            cwd=Path(__file__).resolve().parents[2],
        ).stdout
        for seed in ("1", "2")
    }
    assert runs == {f"{class_color('excavator')}\n"}


def test_without_cjk_font_falls_back_to_ascii_names_once(latin_font: Path) -> None:
    assert find_cjk_font([(latin_font, 0)], use_fontconfig=False) is None
    with pytest.warns(
        RuntimeWarning, match=r"no CJK font found in .*DejaVuSans\.ttf.*ASCII"
    ) as rec:
        annotator = Annotator(AnnotatorConfig(font_path=latin_font))
    assert len(rec) == 1 and not annotator.cjk
    assert annotator.labels(dets()) == ["person 0.87 #12"]
    assert annotator.annotate(black(), dets())[: BOX[1], BOX[0] :].any()


def test_missing_font_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nofont.ttf"
    with pytest.raises(InputError, match=f"cannot load label font {missing}"):
        Annotator(AnnotatorConfig(font_path=missing))


def test_polygons_filled_outlined_and_labelled(cjk: Annotator) -> None:
    zone = [(50, 60), (250, 60), (250, 200), (50, 200)]
    out = cjk.draw_polygons(black(), [zone], ["禁止摆摊区"])
    assert out[130, 150].any()  # fill
    assert not out[230:, :].any() and not out[:, 280:].any()  # outside untouched
    assert out[40:60, 50:120].any()  # label above the top-left vertex
    hollow = Annotator(AnnotatorConfig(zone_opacity=0.0)).draw_polygons(black(), [zone])
    assert not hollow[130, 150].any() and hollow[60, 150].any()


@pytest.mark.parametrize(
    ("polygons", "labels", "message"),
    [
        ([[(0, 0), (10, 0), (10, 10)]], ["a", "b"], "1 polygons but 2 labels"),
        (
            [[(0, 0), (10, 0)]],
            None,
            r"polygon 0 must be K×2 points with K >= 3, got shape \(2, 2\)",
        ),
        ([[0, 1, 2]], None, r"polygon 0 must be K×2 points"),
    ],
)
def test_polygon_errors(cjk: Annotator, polygons: list, labels: list | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cjk.draw_polygons(black(), polygons, labels)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((10, 10, 4), np.uint8),
    ],
)
def test_rejects_non_bgr_images(cjk: Annotator, image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="expected an H×W×3 uint8 BGR image"):
        cjk.annotate(image, dets())


def test_module_functions_leave_the_input_alone() -> None:
    image = black()
    boxed = annotate(image, dets())
    zoned = draw_polygons(image, [[(10, 10), (60, 10), (60, 60)]])
    assert not image.any() and boxed.any() and zoned.any()
    assert boxed.shape == zoned.shape == image.shape and boxed.dtype == np.uint8
