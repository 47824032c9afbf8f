"""Exact (sha256) and near-duplicate (dHash Hamming distance) detection and grouping.

Groups feed the split so near-copies (re-encodes, crops, augmentations) never straddle train/test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detection.data.checks import ImageInfo
from detection.data.samples import ImportResult, Issue, Sample, Severity


def drop_exact_duplicates(result: ImportResult, infos: dict[Path, ImageInfo]) -> int:
    """Keep the first image of each sha256 (input order); later copies are reported and dropped."""
    seen: dict[str, Path] = {}
    kept: list[Sample] = []
    for sample in result.samples:
        digest = infos[sample.image].sha256
        if digest in seen:
            msg = f"exact duplicate of {seen[digest]}; dropped"
            result.issues.append(Issue(sample.image, msg, Severity.WARNING))
            continue
        seen[digest] = sample.image
        kept.append(sample)
    dropped = len(result.samples) - len(kept)
    result.samples = kept
    return dropped


def hamming_matrix(hashes: Sequence[int]) -> np.ndarray:
    """Pairwise Hamming distances of 64-bit hashes (N×N, uint8)."""
    h = np.array(hashes, dtype=np.uint64)
    return np.bitwise_count(h[:, None] ^ h[None, :]).astype(np.uint8)


def near_duplicate_groups(hashes: Sequence[int], threshold: int) -> list[int]:
    """Group index per item: items within ``threshold`` bits are linked, transitively
    (union-find), so a chain of near-copies ends up in one group."""
    n = len(hashes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n:
        rows, cols = np.nonzero(np.triu(hamming_matrix(hashes) <= threshold, k=1))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(n)]
