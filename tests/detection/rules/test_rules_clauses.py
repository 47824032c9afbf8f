"""Every clause, table-driven: which rule fires for which objects, where and when."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from rules_helpers import (
    MONDAY_9AM,
    NAMES,
    SHANGHAI,
    Obj,
    centred,
    config,
    fired,
    on_ground,
    simulate,
    steady,
)

from detection.rules import default_rules
from detection.rules.config import DEFAULT_RULES
from detection.taxonomy import default_taxonomy


def at(hour: int, minute: int = 0, day: int = 6) -> datetime:
    return datetime(2024, 5, day, hour, minute, tzinfo=SHANGHAI)


FRONT, PAVE, ROAD, BAYS, NIGHT, MARKET = 90, 180, 280, 340, 470, 470
VENDOR = {"size": 60, "tid": 2}

CASES: list[tuple[str, list[Obj], datetime, list[str]]] = [
    (
        "1a stall on pavement",
        [on_ground("stall", 100, PAVE, tid=1)],
        MONDAY_9AM,
        ["1a.vending_in_public_space"],
    ),
    ("1a umbrella alone is not vending", [on_ground("umbrella", 100, PAVE, tid=1)], MONDAY_9AM, []),
    (
        "1a umbrella with a vendor staying",
        [on_ground("umbrella", 100, PAVE, tid=1), on_ground("person", 150, PAVE, **VENDOR)],
        MONDAY_9AM,
        ["1a.vending_in_public_space"],
    ),
    (
        "1a table and vendor on the road",
        [on_ground("dining_table", 100, ROAD, tid=1), on_ground("person", 150, ROAD, **VENDOR)],
        MONDAY_9AM,
        ["1a.vending_in_public_space"],
    ),
    (
        "1b table beyond the shop front",
        [on_ground("dining_table", 100, FRONT, tid=1)],
        MONDAY_9AM,
        ["1b.trading_beyond_shop_front"],
    ),
    (
        "1b goods beyond the shop front",
        [on_ground("goods", 100, FRONT, tid=1)],
        MONDAY_9AM,
        ["1b.trading_beyond_shop_front"],
    ),
    (
        "1b wins over 1a for a shop's table and keeper",
        [on_ground("dining_table", 100, FRONT, tid=1), on_ground("person", 150, FRONT, **VENDOR)],
        MONDAY_9AM,
        ["1b.trading_beyond_shop_front"],
    ),
    (
        "1c stall in a market after hours",
        [on_ground("stall", 480, MARKET, tid=1)],
        at(13),
        ["1c.market_after_hours"],
    ),
    ("1c stall in a market in hours", [on_ground("stall", 480, MARKET, tid=1)], MONDAY_9AM, []),
    (
        "1c stall just outside a market",
        [on_ground("stall", 480, BAYS, tid=1)],
        MONDAY_9AM,
        ["1c.market_spill_over"],
    ),
    (
        "1c umbrella and vendor in a night market by day",
        [on_ground("umbrella", 100, NIGHT, tid=1), on_ground("person", 150, NIGHT, **VENDOR)],
        MONDAY_9AM,
        ["1c.market_after_hours"],
    ),
    ("1c stall in a night market at night", [on_ground("stall", 100, NIGHT, tid=1)], at(20), []),
    (
        "1d grill on the road",
        [on_ground("barbecue_grill", 100, ROAD, tid=1)],
        MONDAY_9AM,
        ["1d.open_air_barbecue"],
    ),
    (
        "1d grill in a night market at night",
        [on_ground("barbecue_grill", 100, NIGHT, tid=1)],
        at(20),
        ["1d.open_air_barbecue"],
    ),
    (
        "2a graffiti",
        [centred("graffiti", 300, 50, tid=1)],
        MONDAY_9AM,
        ["2a.graffiti_or_small_ads"],
    ),
    ("2a small ad", [centred("poster", 300, 50, tid=1)], MONDAY_9AM, ["2a.graffiti_or_small_ads"]),
    (
        "2b window ad",
        [centred("window_ad", 300, 50, tid=1)],
        MONDAY_9AM,
        ["2b.posted_on_wall_or_window"],
    ),
    (
        "3a garbage bag on the pavement",
        [on_ground("garbage_bag", 100, PAVE, tid=1)],
        MONDAY_9AM,
        ["3a.piled_in_public_space"],
    ),
    (
        "3a boxes in parking bays",
        [on_ground("cardboard_box", 100, BAYS, tid=1)],
        MONDAY_9AM,
        ["3a.piled_in_public_space"],
    ),
    (
        "3a signboard in front of a shop",
        [on_ground("signboard", 100, FRONT, tid=1)],
        MONDAY_9AM,
        ["3a.piled_in_public_space"],
    ),
    (
        "3a chair on the pavement",
        [on_ground("chair", 100, PAVE, tid=1)],
        MONDAY_9AM,
        ["3a.piled_in_public_space"],
    ),
    (
        "3a a dumped couch on the pavement",
        [on_ground("couch", 100, PAVE, tid=1)],
        MONDAY_9AM,
        ["3a.piled_in_public_space"],
    ),
    (
        "3b table in a night market by day",
        [on_ground("dining_table", 100, NIGHT, tid=1)],
        MONDAY_9AM,
        ["3b.night_market_furniture_by_day"],
    ),
    (
        "3b chairs still out at 03:00",
        [on_ground("chair", 100, NIGHT, tid=1)],
        at(3),
        ["3b.night_market_furniture_by_day"],
    ),
    ("3b tables allowed at 20:00", [on_ground("dining_table", 100, NIGHT, tid=1)], at(20), []),
    ("3b tables allowed past midnight", [on_ground("dining_table", 100, NIGHT, tid=1)], at(1), []),
    (
        "3b table with diners in a night market by day",
        [on_ground("dining_table", 100, NIGHT, tid=1), on_ground("person", 150, NIGHT, **VENDOR)],
        MONDAY_9AM,
        ["3b.night_market_furniture_by_day"],
    ),
    (
        "4a ground lock in parking bays",
        [on_ground("ground_lock", 100, BAYS, tid=1)],
        MONDAY_9AM,
        ["4a.fencing_off_public_space"],
    ),
    (
        "4a stake on the road",
        [on_ground("ground_stake", 100, ROAD, tid=1)],
        MONDAY_9AM,
        ["4a.fencing_off_public_space"],
    ),
    (
        "4a barrier on the pavement",
        [on_ground("barrier", 100, PAVE, tid=1)],
        MONDAY_9AM,
        ["4a.fencing_off_public_space"],
    ),
    (
        "4a traffic cones reserving kerb space",
        [on_ground("traffic_cone", 100, BAYS, tid=1)],
        MONDAY_9AM,
        ["4a.fencing_off_public_space"],
    ),
    (
        "6c dog waste on the pavement",
        [on_ground("dog_waste", 100, PAVE, tid=1)],
        MONDAY_9AM,
        ["6c.dog_waste_in_public_space"],
    ),
    (
        "6c dog waste inside a market zone is not public space",
        [on_ground("dog_waste", 480, MARKET, tid=1)],
        MONDAY_9AM,
        [],
    ),
    (
        "4a market zones are not public roads",
        [on_ground("ground_lock", 480, MARKET, tid=1)],
        MONDAY_9AM,
        [],
    ),
    (
        "5a banner over the pavement",
        [centred("banner", 300, 150, tid=1)],
        MONDAY_9AM,
        ["5a.banner_in_public_space"],
    ),
    (
        "5b laundry over the pavement",
        [centred("laundry", 300, 150, tid=1)],
        MONDAY_9AM,
        ["5b.laundry_in_public_space"],
    ),
    (
        "context classes fire nothing",
        [
            on_ground("person", 100, PAVE, tid=1),
            on_ground("car", 300, ROAD, tid=2),
            on_ground("bench", 500, PAVE, tid=3),
        ],
        MONDAY_9AM,
        [],
    ),
]


@pytest.mark.parametrize(
    ("objs", "start", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_clause_fires_where_and_when_it_applies(
    objs: list[Obj], start: datetime, expected: list[str]
) -> None:
    assert fired(simulate(config(), steady(objs, 12), start=start)) == expected


REPRESENTATIVE: list[tuple[str, Obj, datetime]] = [
    ("1a", on_ground("stall", 100, PAVE, tid=1), MONDAY_9AM),
    ("1b", on_ground("dining_table", 100, FRONT, tid=1), MONDAY_9AM),
    ("1c", on_ground("stall", 480, MARKET, tid=1), at(13)),
    ("1d", on_ground("barbecue_grill", 100, ROAD, tid=1), MONDAY_9AM),
    ("3a", on_ground("garbage_bag", 100, PAVE, tid=1), MONDAY_9AM),
    ("3b", on_ground("chair", 100, NIGHT, tid=1), MONDAY_9AM),
    ("4a", on_ground("ground_lock", 100, BAYS, tid=1), MONDAY_9AM),
    ("5a", centred("banner", 300, 150, tid=1), MONDAY_9AM),
    ("5b", centred("laundry", 300, 150, tid=1), MONDAY_9AM),
    ("6c", on_ground("dog_waste", 100, PAVE, tid=1), MONDAY_9AM),
]


@pytest.mark.parametrize(
    ("clause", "obj", "start"), REPRESENTATIVE, ids=[r[0] for r in REPRESENTATIVE]
)
@pytest.mark.parametrize(("seconds", "fires"), [(9, False), (10, True)], ids=["9s", "10s"])
def test_dwell_boundary(clause: str, obj: Obj, start: datetime, seconds: int, fires: bool) -> None:
    incidents = simulate(config(), steady([obj], seconds), start=start)
    assert [i.clause.id for i in incidents] == ([clause] if fires else [])


@pytest.mark.parametrize(("frames", "fires"), [(4, False), (5, True)])
@pytest.mark.parametrize("name", ["graffiti", "poster", "window_ad"])
def test_posting_needs_enough_frames_not_dwell(name: str, frames: int, fires: bool) -> None:
    timeline = [(i * 0.1, [centred(name, 300, 50, tid=1)]) for i in range(frames)]
    assert len(simulate(config(), timeline)) == (1 if fires else 0)


@pytest.mark.parametrize(
    ("night", "start", "seconds", "fires"),
    [
        ({"start": "18:00", "end": "02:00"}, at(17, 59), 10, True),  # 17:59:00-17:59:10 closed
        ({"start": "18:00", "end": "02:00"}, at(17, 59) + timedelta(seconds=50), 10, False),
        ({"start": "18:00", "end": "02:00"}, at(1, 59) + timedelta(seconds=50), 10, True),
        ({"start": "18:00", "end": "02:00", "days": ["fri"]}, at(1, 0, day=11), 10, False),
        ({"start": "18:00", "end": "02:00", "days": ["fri"]}, at(1, 0, day=12), 10, True),
    ],
    ids=[
        "before-opening",
        "opening-at-18:00",
        "closing-at-02:00",
        "fri-night-into-sat",
        "sat-night-into-sun",
    ],
)
def test_night_market_schedule_boundaries(
    night: dict[str, Any], start: datetime, seconds: int, fires: bool
) -> None:
    """3b fires on the frame where dwell is reached; it must be outside the night-market hours."""
    zones = [
        {
            "id": "night",
            "type": "night_market_area",
            "polygon": [[0, 0], [640, 0], [640, 480], [0, 480]],
            "hours": [night],
        },
    ]
    table = on_ground("dining_table", 100, 200, tid=1)
    incidents = simulate(config(zones=zones), steady([table], seconds), start=start)
    assert [i.rule for i in incidents] == (["3b.night_market_furniture_by_day"] if fires else [])


NO_LEASH = tuple(n for n in NAMES if n != "leash")
DOG = {"size": 40}


def dog(x: float, **kw: Any) -> Obj:
    return on_ground("dog", x, 250, tid=1, **kw)


def person(x: float, tid: int = 2) -> Obj:
    return on_ground("person", x, 250, size=80, tid=tid)


DOG_CASES: list[tuple[str, list[Obj], int, tuple[str, ...], list[str]]] = [
    ("stray: alone for 10 frames", [dog(100)], 10, NAMES, ["6b.dog_alone"]),
    ("alone for 9 frames is not yet", [dog(100)], 9, NAMES, []),
    (
        "people in view but far: unleashed",
        [dog(100), person(500)],
        10,
        NAMES,
        ["6a.dog_away_from_people"],
    ),
    ("owner next to it, no leash class in the model", [dog(100), person(150)], 10, NO_LEASH, []),
    (
        "owner next to it, model sees leashes but none",
        [dog(100), person(150)],
        10,
        NAMES,
        ["6a.dog_without_leash"],
    ),
    (
        "owner next to it with a leash linking them",
        [dog(100), person(150), Obj("leash", (110, 220, 130, 240), tid=3)],
        10,
        NAMES,
        [],
    ),
    (
        "a leash that touches only the dog does not count",
        [dog(100), person(190), Obj("leash", (105, 220, 125, 240), tid=3)],
        10,
        NAMES,
        ["6a.dog_without_leash"],
    ),
]


@pytest.mark.parametrize(
    ("objs", "frames", "names", "expected"),
    [c[1:] for c in DOG_CASES],
    ids=[c[0] for c in DOG_CASES],
)
def test_dog_rules(
    objs: list[Obj], frames: int, names: tuple[str, ...], expected: list[str]
) -> None:
    timeline = [(i * 0.5, objs) for i in range(frames)]
    assert fired(simulate(config(), timeline, names=names)) == expected


def test_dog_frames_must_be_consecutive() -> None:
    alone = [dog(100)]
    with_owner = [dog(100), person(150)]
    timeline = [(i * 0.5, with_owner if i == 6 else alone) for i in range(13)]
    assert simulate(config(), timeline, names=NO_LEASH) == []


def test_every_taxonomy_clause_has_a_rule() -> None:
    clauses = {c.id for s in default_taxonomy().standards for c in s.clauses}
    covered = {c for rule in default_rules() for c in rule.clause_ids}
    assert covered == clauses


def test_every_taxonomy_clause_has_table_cases() -> None:
    """A new clause needs cases here too: one where it fires and, with a dwell, its boundary."""
    fires = {r.split(".")[0] for *_, rules in [*CASES, *DOG_CASES] for r in rules}
    assert fires == set(default_taxonomy().clause_ids)
    with_dwell = {c for c, (dwell, _) in DEFAULT_RULES.items() if dwell > 0}
    assert {clause for clause, *_ in REPRESENTATIVE} == with_dwell


@pytest.mark.parametrize(
    ("names", "obj", "rule"),
    [
        (
            ("person", "car", "ground_lock"),
            on_ground("ground_lock", 100, BAYS, tid=1),
            "4a.fencing_off_public_space",
        ),
        (
            ("person", "dining table"),
            on_ground("dining table", 100, FRONT, tid=1),
            "1b.trading_beyond_shop_front",
        ),
        (
            ("person", "potted plant"),
            on_ground("potted plant", 100, PAVE, tid=1),
            "3a.piled_in_public_space",
        ),
    ],
    ids=["new-class-lights-up-4a", "coco-dining-table", "coco-potted-plant"],
)
def test_model_class_names_map_onto_the_taxonomy(
    names: tuple[str, ...], obj: Obj, rule: str
) -> None:
    """A model that adds a class fires its rule; COCO teacher names map to taxonomy names."""
    assert fired(simulate(config(), steady([obj], 12), names=names)) == [rule]


def test_unknown_model_classes_are_ignored() -> None:
    names = ("person", "truck", "frisbee")
    objs = [on_ground("truck", 100, PAVE, tid=1), on_ground("frisbee", 300, PAVE, tid=2)]
    assert simulate(config(), steady(objs, 30), names=names) == []


@pytest.mark.parametrize(
    ("disabled", "expected"),
    [
        ([], ["1b.trading_beyond_shop_front"]),
        (["1b"], ["3a.piled_in_public_space"]),  # goods are 3a evidence too
        (["1b", "3a"], []),
    ],
)
def test_disabled_clauses_do_not_fire(disabled: list[str], expected: list[str]) -> None:
    cfg = config(rules={c: {"enabled": False} for c in disabled})
    goods = on_ground("goods", 100, FRONT, tid=1)
    assert fired(simulate(cfg, steady([goods], 12))) == expected
