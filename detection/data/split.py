"""Deterministic group split: whole near-duplicate groups go to one split, per source."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

SPLITS = ("train", "val", "test")


class SplitFractions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    train: float = Field(
        0.8, ge=0.0, le=1.0, description="Share of each source's images for training."
    )
    val: float = Field(0.1, ge=0.0, le=1.0, description="Share for validation (model selection).")
    test: float = Field(0.1, ge=0.0, le=1.0, description="Share held out for the final metrics.")

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError("split fractions must sum to 1")
        return self


def group_split(
    keys: Sequence[str],
    groups: Sequence[int],
    strata: Sequence[str],
    fractions: SplitFractions,
    seed: int,
) -> list[str]:
    """Split name per item. Groups are ordered by a seeded hash of their smallest member key (so
    the result does not depend on input order), then filled into train/val/test per stratum by
    cumulative image count."""
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    by_stratum: dict[str, list[list[int]]] = defaultdict(list)
    for items in members.values():
        by_stratum[min(strata[i] for i in items)].append(items)
    out = [""] * len(keys)
    cuts = (fractions.train, fractions.train + fractions.val)
    for _, stratum_groups in sorted(by_stratum.items()):
        stratum_groups.sort(key=lambda items: _rank(seed, min(keys[i] for i in items)))
        total = sum(len(g) for g in stratum_groups)
        done = 0
        for items in stratum_groups:
            position = (done + len(items) / 2) / total
            name = (
                SPLITS[0] if position < cuts[0] else SPLITS[1] if position < cuts[1] else SPLITS[2]
            )
            for i in items:
                out[i] = name
            done += len(items)
    return out


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()
