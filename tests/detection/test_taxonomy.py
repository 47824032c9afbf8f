import json
from pathlib import Path

import pytest
import yaml

from detection.errors import TaxonomyError
from detection.taxonomy import DataStatus, Role, Taxonomy, default_taxonomy, load_taxonomy


def _write(tmp_path: Path, data: object) -> Path:
    p = tmp_path / "taxonomy.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def _raw() -> dict:
    return yaml.safe_load(Path("datasets/taxonomy.yaml").read_text(encoding="utf-8"))


def test_project_taxonomy_has_six_standards_and_named_classes() -> None:
    tax = default_taxonomy()
    assert [s.id for s in tax.standards] == [1, 2, 3, 4, 5, 6]
    for name in (
        "graffiti",
        "window_ad",
        "signboard",
        "garbage_bag",
        "person",
        "dog",
        "ground_lock",
        "laundry",
        "banner",
        "stall",
        "poster",
        "leash",
    ):
        assert name in tax.class_names
    assert tax.clause("1b").name_zh == "出店经营"
    assert tax.cls("dog").coco_name == "dog"


def test_every_standard_has_evidence_classes() -> None:
    tax = default_taxonomy()
    for s in tax.standards:
        assert any(tax.classes_for(c.id) for c in s.clauses), s.key


def test_queries_by_role_and_status() -> None:
    tax = default_taxonomy()
    assert "ground_lock" in tax.classes_for("4a", Role.DISORDER)
    assert "person" not in tax.classes_for("1a", Role.CUE)
    assert set(tax.with_status(DataStatus.TRAINED)) == {
        "graffiti",
        "window_ad",
        "signboard",
        "garbage_bag",
        "dog_waste",
        "traffic_cone",
    }
    assert tax.coco_aliases()["dining table"] == "dining_table"


def test_unknown_lookups_name_the_key() -> None:
    tax = default_taxonomy()
    with pytest.raises(KeyError, match="'flying_saucer' is not a taxonomy class"):
        tax.cls("flying_saucer")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["classes"].append(dict(d["classes"][0])), "duplicate class name"),
        (lambda d: d["classes"][0].update(clauses=["9z"]), "unknown clauses"),
        (lambda d: d["standards"].pop(), "at least 6"),
        (lambda d: d["classes"][0].update(colour="red"), "colour"),
        (lambda d: d["classes"][4].update(data_status="maybe"), "data_status"),
        (lambda d: d["standards"][0]["clauses"][0].update(id="2a"), "clauses of another standard"),
        (lambda d: d["standards"][2]["clauses"][0].pop("dwell_s"), "clause '3a' has no dwell_s:"),
        (
            lambda d: [d["standards"][5]["clauses"][2].pop(f) for f in ("dwell_s", "min_frames")],
            "clause '6c' has no dwell_s or min_frames",
        ),
        (lambda d: d["standards"][0]["clauses"][0].update(min_frames=0), "min_frames"),
        (lambda d: d["standards"][0]["clauses"][0].update(dwell_s=-1), "dwell_s"),
    ],
)
def test_invalid_taxonomy_is_refused_naming_file_and_field(tmp_path: Path, mutate, message) -> None:
    data = _raw()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(TaxonomyError, match=message) as exc:
        load_taxonomy(path)
    assert str(path) in str(exc.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match=r"cannot read taxonomy file .*nope\.yaml"):
        load_taxonomy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("standards: [unclosed", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        load_taxonomy(bad)
    with pytest.raises(TaxonomyError, match="must hold a mapping"):
        load_taxonomy(_write(tmp_path, ["a"]))


def test_dwell_defaults_are_rules_policy_not_published_labels() -> None:
    """Each clause carries them, but GET /taxonomy (the UI's labels) stays as it was."""
    clause = default_taxonomy().clause("3a")
    assert (clause.dwell_s, clause.min_frames) == (300, 5)
    assert {"dwell_s", "min_frames"}.isdisjoint(clause.model_dump())
    published = json.dumps(Taxonomy.model_json_schema(mode="serialization"))
    assert "dwell_s" not in published and "min_frames" not in published


def test_standard_lookup_names_the_standards_there_are() -> None:
    with pytest.raises(KeyError, match="no standard 7; the taxonomy has 1, 2, 3, 4, 5, 6"):
        default_taxonomy().standard(7)
