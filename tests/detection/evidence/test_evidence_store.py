"""The content-addressed evidence store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from detection.evidence import EvidenceStore, sha256_file


def test_put_names_files_by_their_sha256(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    data = b"\x89PNG fake frame bytes"
    sha = store.put(data, "png")
    assert sha == hashlib.sha256(data).hexdigest()
    path = store.path(sha)
    assert path == tmp_path / "ev" / sha[:2] / f"{sha}.png"
    assert path.read_bytes() == data
    assert store.relpath(sha) == f"{sha[:2]}/{sha}.png"
    assert sha256_file(path) == sha
    assert store.verify(sha)


def test_put_is_idempotent_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    assert store.put(b"same", "jpg") == store.put(b"same", "jpg")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [
        f"{hashlib.sha256(b'same').hexdigest()}.jpg"
    ]


def test_verify_detects_a_tampered_file(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    sha = store.put(b"original", "png")
    store.path(sha).write_bytes(b"altered!")
    assert not store.verify(sha)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.put(b"x", ".png"), ValueError, "extension"),
        (lambda s: s.put(b"x", "PNG"), ValueError, "extension"),
        (lambda s: s.path("abc"), ValueError, "not a SHA-256"),
        (lambda s: s.path("0" * 64), FileNotFoundError, "not in the store"),
    ],
    ids=["dotted-ext", "upper-ext", "short-sha", "absent-sha"],
)
def test_bad_arguments(
    tmp_path: Path, call: Callable[[EvidenceStore], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call(EvidenceStore(tmp_path))
