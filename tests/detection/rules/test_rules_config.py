"""Loading rules configs: defaults, formats, and error messages that name file, source and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from detection.errors import ConfigError
from detection.rules import load_config
from detection.rules.config import DEFAULT_RULES, EXAMPLES_DIR, DwellDefaults
from detection.taxonomy import DEFAULT_TAXONOMY, default_taxonomy, load_taxonomy

BASE: dict[str, Any] = {
    "version": 1,
    "sources": [
        {
            "id": "cam-1",
            "name": "长江路口",
            "zones": [
                {
                    "id": "front",
                    "type": "shop_front_band",
                    "polygon": [[0, 0], [100, 0], [100, 50]],
                },
                {
                    "id": "nm",
                    "type": "night_market_area",
                    "polygon": [[0, 60], [100, 60], [100, 90], [0, 90]],
                    "hours": [{"start": "18:00", "end": "02:00"}],
                },
            ],
        }
    ],
}


def write(tmp_path: Path, data: Any, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_defaults_and_both_formats(tmp_path: Path) -> None:
    for name in ("rules.yaml", "rules.json"):
        cfg = load_config(write(tmp_path, BASE, name)).source()
        assert cfg.timezone == "Asia/Shanghai"
        assert cfg.cooldown_s == 600
        assert [(w.start.hour, w.end.hour) for w in cfg.priority_hours] == [(8, 18)]
        assert cfg.rule("3a").dwell_s == DEFAULT_RULES["3a"][0]
        assert cfg.zones[1].hours is not None and cfg.zones[1].hours[0].wraps


def test_rule_overrides_merge_with_defaults(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    data["sources"][0]["rules"] = {"3a": {"dwell_s": 42}, "6a": {"enabled": False}}
    cfg = load_config(write(tmp_path, data)).source("cam-1")
    assert (cfg.rule("3a").dwell_s, cfg.rule("3a").min_frames) == (42, DEFAULT_RULES["3a"][1])
    assert not cfg.rule("6a").enabled


#: The dwell defaults as the code held them before they moved into the taxonomy file.
DWELL = {
    "1a": (120.0, 5),
    "1b": (60.0, 5),
    "1c": (120.0, 5),
    "1d": (30.0, 5),
    "2a": (0.0, 5),
    "2b": (0.0, 5),
    "3a": (300.0, 5),
    "3b": (120.0, 5),
    "4a": (60.0, 5),
    "5a": (30.0, 5),
    "5b": (60.0, 5),
    "6a": (0.0, 10),
    "6b": (0.0, 10),
    "6c": (30.0, 5),
}


def test_every_clause_has_the_dwell_defaults_it_had() -> None:
    assert dict(DEFAULT_RULES) == DWELL
    assert list(DEFAULT_RULES) == list(default_taxonomy().clause_ids)


def test_a_source_takes_the_defaults_of_the_taxonomy_it_runs_with(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_TAXONOMY.read_text(encoding="utf-8"))
    piling = raw["standards"][2]["clauses"][0]
    assert piling["id"] == "3a"
    piling.update(dwell_s=7, min_frames=2)
    tax = load_taxonomy(write(tmp_path, raw, "taxonomy.yaml"))
    cfg = load_config(write(tmp_path, BASE), taxonomy=tax).source()
    assert (cfg.rule("3a", tax).dwell_s, cfg.rule("3a", tax).min_frames) == (7, 2)
    assert (cfg.rule("3a").dwell_s, cfg.rule("3a").min_frames) == DWELL["3a"]
    assert DwellDefaults(tax)["3a"] == (7, 2)


def test_a_clause_the_taxonomy_lacks_has_no_defaults() -> None:
    """Not a dwell of 0 s in 1 frame, as it once was: it would fire on the first frame."""
    cfg = load_config(EXAMPLES_DIR / "vtest.yaml").source()
    with pytest.raises(KeyError, match="no clause '3z'"):
        cfg.rule("3z")
    assert "3z" not in DEFAULT_RULES


def _set(path: str, value: Any) -> Any:
    """A mutation of BASE's first source: dotted path (list indices as numbers) → value."""

    def mutate(data: dict[str, Any]) -> None:
        node: Any = data["sources"][0]
        *parents, last = path.split(".")
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()

ERRORS = [
    (
        "unknown-field",
        _set("zones.0.colour", "red"),
        "zones.0.colour: Extra inputs are not permitted",
    ),
    (
        "market-without-hours",
        _set("zones.1.hours", _DELETE),
        "a night_market_area zone needs 'hours'",
    ),
    (
        "hours-on-pavement",
        _set("zones.0.hours", [{"start": "08:00", "end": "09:00"}]),
        "'hours' only apply to market zones",
    ),
    (
        "empty-window",
        _set("zones.1.hours", [{"start": "18:00", "end": "18:00"}]),
        "zones.1.hours.0: start and end are both 18:00",
    ),
    (
        "bad-time",
        _set("zones.1.hours", [{"start": "25:00", "end": "02:00"}]),
        "zones.1.hours.0.start",
    ),
    (
        "bad-day",
        _set("zones.1.hours", [{"start": "18:00", "end": "02:00", "days": ["monday"]}]),
        "zones.1.hours.0.days.0",
    ),
    ("two-point-polygon", _set("zones.0.polygon", [[0, 0], [10, 10]]), "zones.0.polygon"),
    ("flat-polygon", _set("zones.0.polygon", [[0, 0], [10, 10], [20, 20]]), "polygon has no area"),
    (
        "negative-coordinate",
        _set("zones.0.polygon", [[-5, 0], [10, 0], [10, 10]]),
        "zones.0.polygon.0.0",
    ),
    ("unknown-zone-type", _set("zones.0.type", "beach"), "zones.0.type"),
    ("duplicate-zone", _set("zones.1.id", "front"), "duplicate zone ids ['front']"),
    ("bad-timezone", _set("timezone", "Mars/Olympus"), "timezone: unknown timezone 'Mars/Olympus'"),
    ("unknown-clause", _set("rules", {"7a": {"dwell_s": 5}}), "rules.7a.[key]"),
    ("clause-not-in-taxonomy", _set("rules", {"3z": {"dwell_s": 5}}), "unknown clause ids ['3z']"),
    ("negative-dwell", _set("rules", {"3a": {"dwell_s": -1}}), "rules.3a.dwell_s"),
    ("unknown-exempt", _set("zones.0.exempt", ["9x"]), "zones.0.exempt.0"),
    (
        "unknown-class",
        _set("detection", {"class_min_confidence": {"stal": 0.2}}),
        "unknown classes ['stal']",
    ),
    (
        "confidence-above-one",
        _set("detection", {"min_confidence": 1.5}),
        "detection.min_confidence",
    ),
    (
        "leash-not-6a-context",
        _set("dog", {"leash_class": "person_leash"}),
        "'person_leash' is not a context class of clause 6a",
    ),
    ("points-outside-frame", _set("frame_size", [50, 50]), "zone 'front' has points outside"),
    ("market-default-zone", _set("default_zone", "market_area"), "default_zone cannot be a market"),
    ("cooldown-too-long", _set("cooldown_s", 10**9), "cooldown_s"),
]


@pytest.mark.parametrize(("mutate", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_name_file_source_and_field(tmp_path: Path, mutate: Any, message: str) -> None:
    data = copy.deepcopy(BASE)
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert f"{path}: source 'cam-1' (sources[0])" in text
    assert message in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sources: [\n  - id: a\n   name: broken", "is not valid YAML"),
        ("- just a list", "must hold a mapping"),
        ("version: 1\nsources: []", "'sources' must be a non-empty list"),
        ("version: 2\nsources: [{id: a}]", "version"),
        ("sources: [{id: a}, {id: a}]", "duplicate source ids ['a']"),
        ("sources: [{name: no id}]", "sources[0]:\n  id: Field required"),
        ("sources: [5]", "sources[0] must be a mapping"),
    ],
    ids=[
        "bad-yaml",
        "not-a-mapping",
        "no-sources",
        "wrong-version",
        "duplicate-sources",
        "missing-id",
        "source-not-a-mapping",
    ],
)
def test_file_level_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_missing_file_and_source_choice(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*nope\.yaml"):
        load_config(tmp_path / "nope.yaml")
    data = copy.deepcopy(BASE)
    data["sources"].append({"id": "cam-2"})
    cfg = load_config(write(tmp_path, data))
    with pytest.raises(ConfigError, match="the config has 2 sources; choose one of cam-1, cam-2"):
        cfg.source()
    with pytest.raises(ConfigError, match="no source 'cam-9'"):
        cfg.source("cam-9")
    assert cfg.source("cam-2").id == "cam-2"


@pytest.mark.parametrize("example", sorted(EXAMPLES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_examples_load(example: Path) -> None:
    assert load_config(example).sources
