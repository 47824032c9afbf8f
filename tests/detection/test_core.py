from datetime import UTC, datetime

import numpy as np
import pytest

from detection.core import Detections, Frame, FrameMeta, GeoPoint, box_coverage, box_iou

NAMES = ("person", "dog", "graffiti")


def _dets(n: int = 3) -> Detections:
    xyxy = np.array([[0, 0, 10, 10], [5, 5, 25, 45], [100, 100, 110, 130]], np.float32)[:n]
    return Detections.from_arrays(xyxy, [0.9, 0.5, 0.3][:n], [0, 1, 2][:n], NAMES)


def test_properties_and_selection() -> None:
    d = _dets()
    assert len(d) == 3
    assert d.class_name == ["person", "dog", "graffiti"]
    np.testing.assert_allclose(d.center[1], [15, 25])
    np.testing.assert_allclose(d.area, [100, 800, 300])
    assert len(d[d.confidence > 0.4]) == 2
    assert d[1].class_name == ["dog"]
    assert d.of_classes(["graffiti", "not_in_model"]).class_name == ["graffiti"]
    assert len(Detections.empty(NAMES)) == 0


def test_records_are_json_ready() -> None:
    rec = _dets().with_track_ids([7, 8, -1]).to_records()
    assert rec[0] == {
        "class_name": "person",
        "confidence": 0.9,
        "xyxy": [0, 0, 10, 10],
        "track_id": 7,
    }


def test_texts_follow_their_boxes() -> None:
    d = Detections.from_arrays(
        _dets().xyxy, [0.9, 0.5, 0.3], [0, 1, 2], NAMES, texts=["", "开锁", "x"]
    )
    assert d[d.confidence > 0.4].texts == ("", "开锁")
    assert d[np.array([2, 1])].texts == ("x", "开锁")
    assert d[1:2].texts == ("开锁",)
    assert d.with_track_ids([1, 2, 3]).texts == d.texts
    assert [r.get("text") for r in d.to_records()] == [None, "开锁", "x"]
    assert _dets()[0:2].texts is None
    assert "text" not in _dets().to_records()[0]


SET_MODELS = Detections.from_arrays(
    [[0, 0, 10, 10], [5, 5, 25, 45]], [0.9, 0.5], [0, 1], NAMES, model=["coco", "coco"]
)
DISORDER = Detections.from_arrays([[100, 100, 110, 130]], [0.3], [2], NAMES, model=["shirong"])
TEXT = Detections.from_arrays(
    [[50, 60, 70, 80]], [0.8], [1], ("car", "poster"), texts=["开锁"], model=["text-reader"]
)
TRACKED = Detections.from_arrays([[1, 2, 3, 4]], [0.6], [1], NAMES, track_id=[4])
NOTHING = Detections.empty(("car", "poster"))


@pytest.mark.parametrize(
    ("parts", "names", "classes", "model", "texts", "track_id"),
    [
        pytest.param(
            (SET_MODELS, DISORDER),
            NAMES,
            ["person", "dog", "graffiti"],
            ("coco", "coco", "shirong"),
            None,
            None,
            id="a set's models keep their tags",
        ),
        pytest.param(
            (SET_MODELS, TEXT),
            (*NAMES, "poster"),
            ["person", "dog", "poster"],
            ("coco", "coco", "text-reader"),
            ("", "", "开锁"),
            None,
            id="text candidates beside tagged boxes",
        ),
        pytest.param(
            (TRACKED, TEXT),
            (*NAMES, "poster"),
            ["dog", "poster"],
            ("", "text-reader"),
            ("", "开锁"),
            [4, -1],
            id="untagged tracked boxes and text",
        ),
        pytest.param(
            (SET_MODELS, NOTHING),
            NAMES,
            ["person", "dog"],
            ("coco", "coco"),
            None,
            None,
            id="an empty part adds no box and no class",
        ),
        pytest.param(
            (NOTHING, TEXT, NOTHING),
            ("car", "poster"),
            ["poster"],
            ("text-reader",),
            ("开锁",),
            None,
            id="empty parts around one",
        ),
        pytest.param((TRACKED,), NAMES, ["dog"], None, None, [4], id="one part is itself"),
        pytest.param(
            (NOTHING, Detections.from_arrays([], [], [], NAMES, texts=(), model=())),
            ("car", "poster"),
            [],
            (),
            (),
            None,
            id="only empty parts",
        ),
    ],
)
def test_merge_keeps_every_per_box_field(
    parts: tuple[Detections, ...],
    names: tuple[str, ...],
    classes: list[str],
    model: tuple[str, ...] | None,
    texts: tuple[str, ...] | None,
    track_id: list[int] | None,
) -> None:
    merged = Detections.merge(*parts)
    assert merged.names == names
    assert merged.class_name == classes
    assert merged.model == model
    assert merged.texts == texts
    assert (None if merged.track_id is None else merged.track_id.tolist()) == track_id
    np.testing.assert_array_equal(merged.xyxy, np.concatenate([p.xyxy for p in parts]))
    np.testing.assert_array_equal(merged.confidence, np.concatenate([p.confidence for p in parts]))


def test_merge_needs_a_part_and_records_leave_out_an_empty_tag() -> None:
    with pytest.raises(ValueError, match=r"Detections\.merge needs at least one part"):
        Detections.merge()
    records = Detections.merge(TRACKED, TEXT).to_records()
    assert [r.get("model") for r in records] == [None, "text-reader"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"xyxy": np.zeros((2, 3), np.float32)}, ValueError, r"shape \(N, 4\)"),
        ({"xyxy": np.zeros((1, 4), np.float64)}, TypeError, "xyxy must be float32"),
        ({"confidence": np.zeros(2, np.float32)}, ValueError, "confidence has 2 rows, expected 1"),
        ({"class_id": np.array([5])}, ValueError, "class_id out of range"),
        ({"class_id": [0]}, TypeError, "must be a numpy array"),
        ({"xyxy": np.array([[10, 0, 0, 10]], np.float32)}, ValueError, "x2 >= x1"),
        ({"track_id": np.zeros(3, np.int64)}, ValueError, "track_id has 3 rows"),
        ({"texts": ("a", "b")}, ValueError, "texts has 2 rows, expected 1"),
        ({"texts": ["a"]}, TypeError, "texts must be a tuple of str"),
        ({"texts": (None,)}, TypeError, "texts must be a tuple of str"),
    ],
)
def test_shape_and_dtype_checks(kwargs, error, message) -> None:
    base = dict(
        xyxy=np.zeros((1, 4), np.float32),
        confidence=np.zeros(1, np.float32),
        class_id=np.zeros(1, np.int64),
        names=NAMES,
    )
    with pytest.raises(error, match=message):
        Detections(**(base | kwargs))


def test_frame_and_meta_validation() -> None:
    meta = FrameMeta("cam", 0, 0.0, datetime.now(UTC), 4, 2, GeoPoint(36.0, 120.1, 90.0))
    Frame(np.zeros((2, 4, 3), np.uint8), meta)
    with pytest.raises(ValueError, match="meta says 4x2"):
        Frame(np.zeros((4, 2, 3), np.uint8), meta)
    Frame(np.zeros((2, 4, 3), np.uint8), meta, full=np.zeros((8, 16, 3), np.uint8))
    with pytest.raises(ValueError, match=r"Frame.full must be H×W×3 uint8, got \(8, 16\) uint8"):
        Frame(np.zeros((2, 4, 3), np.uint8), meta, full=np.zeros((8, 16), np.uint8))
    with pytest.raises(ValueError, match="timezone-aware"):
        FrameMeta("cam", 0, 0.0, datetime(2026, 1, 1), 4, 2)
    with pytest.raises(ValueError, match="out of range"):
        GeoPoint(91, 0)


A = [0, 0, 10, 10]
A_SHIFTED = [1, 0, 11, 10]  # IoU with A: 90 / 110
A_RIGHT_HALF = [5, 0, 15, 10]  # IoU with A: 50 / 150
FAR = [50, 50, 60, 60]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([A], [A], [[1.0]]),
        ([A], [FAR], [[0.0]]),
        ([A], [[10, 10, 20, 20]], [[0.0]]),  # touching corners
        ([A], [A_RIGHT_HALF], [[1 / 3]]),
        ([A], [[0, 0, 5, 5]], [[0.25]]),  # contained
        ([A], [[2, 2, 4, 4]], [[4 / 100]]),
        ([[3, 3, 3, 3]], [[3, 3, 3, 3]], [[0.0]]),  # zero area: 0, not NaN
        ([[0, 0, 0, 0]], [[0, 0, 0, 0]], [[0.0]]),
        ([[10, 10, 0, 0]], [A], [[0.0]]),  # inverted: empty, not a negative area
        ([A, FAR], [A_SHIFTED, FAR, A], [[90 / 110, 0, 1], [0, 1, 0]]),
    ],
)
def test_box_iou(a: list, b: list, expected: list) -> None:
    np.testing.assert_allclose(box_iou(a, b), expected)


def test_box_iou_empty_shapes() -> None:
    assert box_iou(np.zeros((0, 4)), [A, FAR]).shape == (0, 2)
    assert box_iou([A], []).shape == (1, 0)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([[2, 2, 4, 4]], [A], [[1.0]]),  # wholly inside, however small
        ([A], [[2, 2, 4, 4]], [[0.04]]),  # not symmetric
        ([A], [A_RIGHT_HALF, FAR], [[0.5, 0.0]]),
        ([[3, 3, 3, 3]], [A], [[0.0]]),  # an empty box: 0, not NaN
    ],
)
def test_box_coverage(a: list, b: list, expected: list) -> None:
    np.testing.assert_allclose(box_coverage(a, b), expected)
    assert box_coverage(np.zeros((0, 4)), [A]).shape == (0, 1)
