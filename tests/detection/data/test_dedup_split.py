"""Exact and near-duplicate detection; the group split keeps near-copies together, by seed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from detection.data.checks import validate
from detection.data.dedup import drop_exact_duplicates, hamming_matrix, near_duplicate_groups
from detection.data.samples import ImportResult, Sample
from detection.data.split import SplitFractions, group_split


@pytest.mark.parametrize(
    ("hashes", "threshold", "groups"),
    [
        ([0b0, 0b1, 0b11, 0xFF], 1, [0, 0, 0, 3]),  # chain 0-1-3 links transitively
        ([0b0, 0b11, 0xFF], 1, [0, 1, 2]),
        ([0b0, 0b11, 0xFF], 2, [0, 0, 2]),
        ([0xFFFF, 0xFFFF], 0, [0, 0]),
        ([], 6, []),
    ],
)
def test_near_duplicate_groups(hashes: list[int], threshold: int, groups: list[int]) -> None:
    assert near_duplicate_groups(hashes, threshold) == groups


def test_hamming_matrix_uses_all_64_bits() -> None:
    assert hamming_matrix([0, 2**64 - 1]).tolist() == [[0, 64], [64, 0]]


def _keys(n: int) -> list[str]:
    return [f"{i:04d}" for i in range(n)]


@pytest.mark.parametrize("seed", [0, 1, 7, 123])
def test_groups_never_straddle_splits(seed: int) -> None:
    keys = _keys(200)
    groups = [i // 4 for i in range(200)]  # 50 groups of 4 near-copies
    splits = group_split(keys, groups, ["s"] * 200, SplitFractions(), seed)
    for g in set(groups):
        assert len({splits[i] for i in range(200) if groups[i] == g}) == 1
    assert {s: splits.count(s) for s in ("train", "val", "test")} == {
        "train": 160,
        "val": 20,
        "test": 20,
    }


def test_split_is_deterministic_and_independent_of_input_order() -> None:
    keys, groups, strata = _keys(100), list(range(100)), ["a"] * 50 + ["b"] * 50
    first = dict(zip(keys, group_split(keys, groups, strata, SplitFractions(), 5), strict=True))
    order = list(reversed(range(100)))
    again = group_split(
        [keys[i] for i in order],
        [groups[i] for i in order],
        [strata[i] for i in order],
        SplitFractions(),
        5,
    )
    assert dict(zip([keys[i] for i in order], again, strict=True)) == first
    other = dict(zip(keys, group_split(keys, groups, strata, SplitFractions(), 6), strict=True))
    assert other != first


def test_split_is_per_source() -> None:
    keys, strata = _keys(100), ["a"] * 90 + ["b"] * 10
    splits = group_split(keys, list(range(100)), strata, SplitFractions(), 0)
    assert [splits[i] for i in range(90, 100)].count("test") == 1


@pytest.mark.parametrize("values", [(0.8, 0.1, 0.2), (0.5, 0.5, 0.5)])
def test_fractions_must_sum_to_one(values: tuple[float, float, float]) -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        SplitFractions(train=values[0], val=values[1], test=values[2])


def test_exact_and_near_copies_on_real_files(
    tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    a = make_image(tmp_path / "a.png", seed=3, size=(160, 120))
    (tmp_path / "a_copy.png").write_bytes(a.read_bytes())
    near = tmp_path / "a_small.jpg"
    image = cv2.imread(str(a))
    assert image is not None
    cv2.imwrite(str(near), cv2.resize(image, (80, 60)), [cv2.IMWRITE_JPEG_QUALITY, 70])
    make_image(tmp_path / "b.png", seed=4, size=(160, 120))
    names = ["a.png", "a_copy.png", "a_small.jpg", "b.png"]
    result = ImportResult(samples=[Sample(tmp_path / n, (), "s") for n in names])
    infos = validate(result, frozenset())
    assert drop_exact_duplicates(result, infos) == 1
    assert "a_copy.png" in str(result.issues[0]) and "exact duplicate of" in str(result.issues[0])
    groups = near_duplicate_groups([infos[s.image].dhash for s in result.samples], 6)
    assert groups[0] == groups[1] != groups[2]
