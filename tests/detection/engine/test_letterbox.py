"""Letterbox maths: scale/pad tables, box round trips, and pixel equality with Ultralytics."""

from __future__ import annotations

import numpy as np
import pytest

from detection.engine.letterbox import (
    PAD_VALUE,
    letterbox,
    plan_letterbox,
    preprocess,
    stride_aligned_hw,
)

SHAPES = [(1080, 810), (576, 768), (100, 100), (1, 3000), (3000, 100), (481, 640), (720, 1280)]


@pytest.mark.parametrize(
    ("orig_hw", "input_hw", "resized_hw", "pad_xy"),
    [
        ((1080, 810), (640, 640), (640, 480), (80, 0)),  # portrait: pad left/right
        ((576, 768), (640, 640), (480, 640), (0, 80)),  # landscape: pad top/bottom
        ((100, 100), (640, 640), (640, 640), (0, 0)),  # small images are scaled up
        ((1, 3000), (640, 640), (1, 640), (0, 319)),  # thin images keep one pixel row
        ((3000, 100), (640, 640), (640, 21), (309, 0)),  # 21.3 px wide: scale_x is not scale_y
        ((481, 640), (640, 640), (481, 640), (0, 79)),  # odd padding: 79 on top, 80 below
        ((576, 768), (480, 640), (480, 640), (0, 0)),  # stride-aligned rectangle: no padding
    ],
)
def test_plan(
    orig_hw: tuple[int, int],
    input_hw: tuple[int, int],
    resized_hw: tuple[int, int],
    pad_xy: tuple[int, int],
) -> None:
    box = plan_letterbox(orig_hw, input_hw)
    assert box.resized_hw == resized_hw
    assert (box.pad_x, box.pad_y) == pad_xy
    assert box.scale_x == resized_hw[1] / orig_hw[1]
    assert box.scale_y == resized_hw[0] / orig_hw[0]


@pytest.mark.parametrize("orig_hw", SHAPES)
def test_boxes_round_trip(orig_hw: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    h, w = orig_hw
    x1, y1 = rng.uniform(0, w, 20), rng.uniform(0, h, 20)
    x2, y2 = rng.uniform(x1, w), rng.uniform(y1, h)
    boxes = np.stack([x1, y1, x2, y2], axis=1).astype(np.float32)
    box = plan_letterbox(orig_hw, (640, 640))
    inside = box.to_input(boxes)
    assert inside[:, [0, 2]].min() >= box.pad_x - 1e-3
    assert inside[:, [1, 3]].min() >= box.pad_y - 1e-3
    np.testing.assert_allclose(box.to_original(inside), boxes, atol=1e-3 * max(orig_hw))


def test_to_original_clips_to_the_image() -> None:
    box = plan_letterbox((576, 768), (640, 640))  # scale 5/6, 80 px pad top and bottom
    np.testing.assert_allclose(box.to_original([[-10, 0, 700, 640]]), [[0, 0, 768, 576]])


@pytest.mark.parametrize(
    ("orig_hws", "imgsz", "expected"),
    [
        ([(576, 768)], (640, 640), (480, 640)),
        ([(1080, 810)], (640, 640), (640, 480)),
        ([(576, 768), (1080, 810)], (640, 640), (640, 640)),  # the batch shares one shape
        ([(16, 64)], (64, 64), (32, 64)),
        ([(510, 1000)], (640, 640), (352, 640)),  # 510 * 0.64 = 326 rows round up to 352
    ],
)
def test_stride_aligned_hw(
    orig_hws: list[tuple[int, int]], imgsz: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert stride_aligned_hw(orig_hws, imgsz, 32) == expected


def test_preprocess_makes_rgb_nchw_in_unit_range() -> None:
    blue = np.zeros((32, 64, 3), np.uint8)
    blue[..., 0] = 255  # BGR blue
    blob, boxes = preprocess([blue, blue], (64, 64))
    assert blob.shape == (2, 3, 64, 64) and blob.dtype == np.float32
    content = blob[:, :, 16:48]  # 16 rows of padding above and below
    assert np.all(content[:, 2] == 1.0) and np.all(content[:, :2] == 0.0)
    np.testing.assert_allclose(blob[:, :, :16], PAD_VALUE / 255)
    assert [b.pad_y for b in boxes] == [16, 16]


@pytest.mark.parametrize("orig_hw", SHAPES)
@pytest.mark.parametrize("auto", [False, True], ids=["square", "stride-aligned"])
def test_same_pixels_and_boxes_as_ultralytics(orig_hw: tuple[int, int], auto: bool) -> None:
    augment = pytest.importorskip("ultralytics.data.augment")
    ops = pytest.importorskip("ultralytics.utils.ops")
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (*orig_hw, 3), dtype=np.uint8)
    input_hw = stride_aligned_hw([orig_hw], (640, 640), 32) if auto else (640, 640)
    ours, box = letterbox(image, input_hw)
    theirs = augment.LetterBox((640, 640), auto=auto, stride=32)(image=image)
    np.testing.assert_array_equal(ours, theirs)
    boxes = np.array([[10, 20, 300, 400], [0, 0, 640, 640]], np.float32)
    expected = ops.scale_boxes(input_hw, boxes.copy(), orig_hw)
    np.testing.assert_allclose(box.to_original(boxes), expected, rtol=1e-6)
