"""One incident per situation (dedup, cooldown, GPS), the incident record and its schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from rules_helpers import (
    MONDAY_9AM,
    config,
    fired,
    on_ground,
    simulate,
    steady,
)

from detection.core import GeoPoint
from detection.rules import Incident
from detection.rules.incident import SCHEMA_FILE, json_schema

PAVE = 180


@pytest.mark.parametrize(
    ("return_after_s", "cooldown_s", "incidents"),
    [(40, 60, 1), (90, 60, 2)],
    ids=["back-within-cooldown-updates", "back-after-cooldown-reopens"],
)
def test_cooldown(return_after_s: int, cooldown_s: float, incidents: int) -> None:
    """A bag (0-12 s) is taken away; another is put at the same place after more than the
    30 s rejoin window (a new object)."""
    first = steady([on_ground("garbage_bag", 100, PAVE, tid=1)], 12)
    gap = [(12 + s, []) for s in range(1, return_after_s)]
    back = steady([on_ground("garbage_bag", 102, PAVE, tid=2)], 12, start=12 + return_after_s)
    result = simulate(config(cooldown_s=cooldown_s), [*first, *gap, *back])
    assert len(result) == incidents
    assert all(i.status == "closed" for i in result)
    if incidents == 1:
        assert [t.tracker_ids for t in result[0].tracks] == [(1,), (2,)]
        assert result[0].observations == 3 + 3


@pytest.mark.parametrize(
    ("second_x", "incidents"),
    [(120, 1), (400, 2)],
    ids=["overlapping-objects-one-incident", "apart-two-incidents"],
)
def test_overlapping_region_and_same_standard_is_one_incident(
    second_x: float, incidents: int
) -> None:
    objs = [
        on_ground("garbage_bag", 100, PAVE, tid=1),
        on_ground("cardboard_box", second_x, PAVE, tid=2),
    ]
    result = simulate(config(), steady(objs, 12))
    assert len(result) == incidents
    if incidents == 1:
        assert result[0].classes == ("cardboard_box", "garbage_bag")
        assert result[0].region_xyxy == (80.0, 140.0, 140.0, 180.0)


def test_different_standards_at_the_same_place_are_separate() -> None:
    objs = [on_ground("garbage_bag", 100, PAVE, tid=1), on_ground("ground_lock", 110, PAVE, tid=2)]
    assert sorted(fired(simulate(config(), steady(objs, 12)))) == [
        "3a.piled_in_public_space",
        "4a.fencing_off_public_space",
    ]


def test_a_claimed_object_is_not_reported_under_a_second_clause() -> None:
    """Goods in a shop-front band are 1b; the same goods never also open a 3a incident."""
    cfg = config(rules={"3a": {"dwell_s": 5, "min_frames": 3}})
    goods = on_ground("goods", 100, 90, tid=1)
    assert fired(simulate(cfg, steady([goods], 30))) == ["3a.piled_in_public_space"]
    cfg = config(rules={"3a": {"dwell_s": 20, "min_frames": 3}})
    assert fired(simulate(cfg, steady([goods], 30))) == ["1b.trading_beyond_shop_front"]


def _moving_track(metres_per_s: float) -> Callable[[float], GeoPoint]:
    """A car driving north from a fixed point: ~1e-5 degrees latitude per 1.11 m."""

    def at(s: float) -> GeoPoint:
        return GeoPoint(36.0 + s * metres_per_s / 111_195.0, 120.0, 0.0)

    return at


@pytest.mark.parametrize(
    ("metres_per_s", "incidents"),
    [(1.0, 1), (10.0, 2)],
    ids=["second-sighting-within-radius", "second-sighting-far-away"],
)
def test_moving_source_dedups_by_gps_distance_and_class(
    metres_per_s: float, incidents: int
) -> None:
    """A dashcam sees a bag (track 1), loses it, then sees a bag again (track 2) 6 s later."""
    cfg = config(zones=[], default_zone="pavement", moving=True, dedup_radius_m=25)
    timeline = [(s, [on_ground("garbage_bag", 100 + 40 * s, PAVE, tid=1)]) for s in range(4)]
    timeline += [(s, [on_ground("garbage_bag", 500, PAVE, tid=2)]) for s in range(6, 10)]
    result = simulate(cfg, timeline, gps=_moving_track(metres_per_s))
    assert fired(result) == ["3a.piled_in_public_space"] * incidents
    assert result[0].location is not None
    assert result[0].location.lat == pytest.approx(36.0 + 2 * metres_per_s / 111_195.0)


def test_moving_source_without_gps_still_reports() -> None:
    cfg = config(zones=[], default_zone="pavement", moving=True)
    timeline = [(s, [on_ground("garbage_bag", 100 + 40 * s, PAVE, tid=1)]) for s in range(4)]
    (inc,) = simulate(cfg, timeline)
    assert inc.location is None


def test_incident_record_is_complete() -> None:
    objs = [on_ground("umbrella", 100, PAVE, tid=1), on_ground("person", 150, PAVE, size=60, tid=2)]
    (inc,) = simulate(config(), steady(objs, 12), gps=lambda s: GeoPoint(36.06, 120.38, 90.0))
    assert (inc.standard.id, inc.standard.name_zh) == (1, "无“乱摆乱卖”")
    assert (inc.clause.id, inc.clause.name_zh, inc.clause.key) == (
        "1a",
        "占道经营",
        "street_vending",
    )
    assert inc.rule == "1a.vending_in_public_space"
    assert inc.classes == ("person", "umbrella")
    assert inc.zone is not None and (inc.zone.id, inc.zone.type) == ("pave", "pavement")
    assert inc.first_seen == MONDAY_9AM
    assert inc.opened_at == MONDAY_9AM + timedelta(seconds=10)
    assert inc.last_seen == MONDAY_9AM + timedelta(seconds=12)
    assert inc.first_seen.utcoffset() == timedelta(hours=8)
    assert (inc.dwell_s, inc.observations, inc.confidence) == (12.0, 3, 0.8)
    assert inc.in_priority_hours
    assert inc.location is not None and (inc.location.lat, inc.location.heading) == (36.06, 90.0)
    assert [(t.class_name, t.role) for t in inc.tracks] == [
        ("umbrella", "cue"),
        ("person", "context"),
    ]
    assert inc.frame_size == (640, 480)
    assert inc.evidence is None  # no store given


@pytest.mark.parametrize(("hour", "priority"), [(7, False), (8, True), (17, True), (18, False)])
def test_priority_hours_flag(hour: int, priority: bool) -> None:
    bag = on_ground("garbage_bag", 100, PAVE, tid=1)
    (inc,) = simulate(config(), steady([bag], 12), start=MONDAY_9AM.replace(hour=hour))
    assert inc.in_priority_hours is priority


def test_json_round_trip_and_stable_keys() -> None:
    (inc,) = simulate(config(), steady([on_ground("garbage_bag", 100, PAVE, tid=1)], 12))
    text = inc.to_json()
    assert "\n" not in text
    assert Incident.from_json(text) == inc
    data = json.loads(text)
    assert list(data) == list(Incident.model_fields)
    assert data["first_seen"] == "2024-05-06T09:00:00+08:00"
    assert data["clause"]["name_zh"] == "乱堆乱放"


def test_checked_in_schema_matches_the_model() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema(), (
        "incident.schema.json is stale: run detection.rules.incident.write_schema()"
    )
