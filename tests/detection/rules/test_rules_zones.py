"""Zones (overlap order, exemptions, scaling, default zone), masks and detection filters."""

from __future__ import annotations

from typing import Any

import pytest
from rules_helpers import Obj, config, fired, on_ground, rect, simulate, steady

FRONT_BAND = {"id": "front", "type": "shop_front_band", "polygon": rect(0, 0, 640, 100)}
WIDE_PAVEMENT = {"id": "pave", "type": "pavement", "polygon": rect(0, 0, 640, 200)}
TABLE = on_ground("dining_table", 100, 90, tid=1)


@pytest.mark.parametrize(
    ("zones", "expected"),
    [
        ([FRONT_BAND, WIDE_PAVEMENT], ["1b.trading_beyond_shop_front"]),
        ([WIDE_PAVEMENT, FRONT_BAND], ["3a.piled_in_public_space"]),
        ([{**FRONT_BAND, "exempt": ["1b"]}, WIDE_PAVEMENT], ["3a.piled_in_public_space"]),
        ([{**FRONT_BAND, "exempt": ["1b", "3a"]}, WIDE_PAVEMENT], []),
    ],
    ids=["band-listed-first", "pavement-listed-first", "permit-for-1b", "permit-for-1b-and-3a"],
)
def test_overlapping_zones_first_listed_wins(
    zones: list[dict[str, Any]], expected: list[str]
) -> None:
    incidents = simulate(config(zones=zones), steady([TABLE], 12))
    assert fired(incidents) == expected


def test_objects_outside_every_zone_fire_only_zone_free_clauses() -> None:
    zones = [{"id": "pave", "type": "pavement", "polygon": rect(0, 100, 640, 200)}]
    objs = [on_ground("garbage_bag", 100, 300, tid=1), on_ground("barbecue_grill", 400, 300, tid=2)]
    incidents = simulate(config(zones=zones), steady(objs, 12))
    assert fired(incidents) == ["1d.open_air_barbecue"]
    assert incidents[0].zone is None


def test_default_zone_covers_the_whole_frame() -> None:
    cfg = config(zones=[], default_zone="pavement")
    (inc,) = simulate(cfg, steady([on_ground("garbage_bag", 100, 300, tid=1)], 12))
    assert inc.zone is not None and (inc.zone.id, inc.zone.type) == ("frame", "pavement")


def test_polygons_scale_with_the_frame_size() -> None:
    """Zones drawn on a 320x240 frame apply to the 640x480 stream at double scale."""
    half = [{"id": "pave", "type": "pavement", "polygon": rect(0, 50, 320, 100)}]
    bag_in = on_ground("garbage_bag", 100, 180, tid=1)  # y 180 → 90 in the drawing: inside
    bag_out = on_ground("garbage_bag", 400, 300, tid=2)  # y 300 → 150: outside
    cfg = config(zones=half, frame_size=[320, 240])
    (inc,) = simulate(cfg, steady([bag_in, bag_out], 12))
    assert inc.tracks[0].tracker_ids == (1,)


@pytest.mark.parametrize(
    ("masks", "fires"),
    [([], True), ([rect(60, 120, 140, 200)], False), ([rect(300, 0, 400, 100)], True)],
    ids=["no-mask", "masked", "mask-elsewhere"],
)
def test_masks_drop_detections(masks: list[list[list[float]]], fires: bool) -> None:
    bag = on_ground("garbage_bag", 100, 180, tid=1)
    assert len(simulate(config(masks=masks), steady([bag], 12))) == (1 if fires else 0)


@pytest.mark.parametrize(
    ("obj", "detection", "fires"),
    [
        (on_ground("garbage_bag", 100, 180, conf=0.36, tid=1), {}, True),
        (on_ground("garbage_bag", 100, 180, conf=0.34, tid=1), {}, False),
        (
            on_ground("garbage_bag", 100, 180, conf=0.34, tid=1),
            {"class_min_confidence": {"garbage_bag": 0.3}},
            True,
        ),
        (
            on_ground("garbage_bag", 100, 180, conf=0.5, tid=1),
            {"class_min_confidence": {"garbage_bag": 0.6}},
            False,
        ),
        (on_ground("garbage_bag", 100, 180, size=8, tid=1), {}, True),
        (on_ground("garbage_bag", 100, 180, size=7.9, tid=1), {}, False),
        (Obj("garbage_bag", (100, 100, 300, 106), tid=1), {"min_box_px": 4}, True),
    ],
    ids=[
        "conf-above",
        "conf-below",
        "class-override-lower",
        "class-override-higher",
        "size-at-minimum",
        "size-below-minimum",
        "thin-box-small-minimum",
    ],
)
def test_confidence_and_size_filters(obj: Obj, detection: dict[str, Any], fires: bool) -> None:
    cfg = config(detection=detection)
    assert len(simulate(cfg, steady([obj], 12))) == (1 if fires else 0)
