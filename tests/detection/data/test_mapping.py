"""Class mapping: valid tables relabel and drop; targets outside the taxonomy are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from detection.data.mapping import ClassMapping, apply_mapping
from detection.data.samples import Box, ImportResult, Sample
from detection.errors import ConfigError
from detection.taxonomy import default_taxonomy


def test_mapping_relabels_drops_and_counts(tmp_path: Path) -> None:
    file = tmp_path / "map.yaml"
    file.write_text("win_ad: window_ad\ngeneral_trashbag: garbage_bag\ndoor: null\n")
    mapping = ClassMapping.load(file, default_taxonomy())
    boxes = (Box("win_ad", 0, 0, 1, 1), Box("door", 0, 0, 1, 1), Box("arch", 0, 0, 1, 1))
    result = ImportResult(samples=[Sample(tmp_path / "a.jpg", boxes, "facades")])
    stats = apply_mapping(result, mapping)
    assert [b.label for b in result.samples[0].boxes] == ["window_ad"]
    assert stats.kept == {"window_ad": 1}
    assert stats.dropped == {"door": 1, "arch": 1}


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("win_ad: shop_window_ad\n", "'win_ad' maps to 'shop_window_ad'"),
        ("trash: [garbage_bag]\n", "'trash' maps to '['garbage_bag']'"),
        ("7: Graffiti\n", "'7' maps to 'Graffiti'"),
    ],
)
def test_mapping_to_a_non_taxonomy_name_names_file_and_name(
    tmp_path: Path, text: str, bad: str
) -> None:
    file = tmp_path / "map.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError) as err:
        ClassMapping.load(file, default_taxonomy())
    assert str(file) in str(err.value) and bad in str(err.value)
    assert "not a taxonomy class" in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("- a\n- b\n", "must hold 'source: taxonomy' pairs"), ("a: [", "cannot read")],
)
def test_malformed_mapping_file(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "map.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=message):
        ClassMapping.load(file, default_taxonomy())
