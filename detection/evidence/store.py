"""A content-addressed evidence store: every file is named by the SHA-256 of its bytes.

Naming by hash makes evidence tamper-evident (re-hashing a file must give its name), deduplicates
identical frames for free and lets incidents refer to evidence by a value that survives copying
the store elsewhere. Files land at ``root/<first two hex digits>/<sha256>.<ext>``; writes go to a
temporary file in the same folder and are renamed into place, so a crash never leaves a
truncated file under a valid name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from detection.errors import InputError

_SHA = re.compile(r"^[0-9a-f]{64}$")
_EXT = re.compile(r"^[a-z0-9]{1,8}$")
_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hash a file in chunks (evidence frames can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def replaced(target: Path) -> Iterator[BinaryIO]:
    """A writer whose bytes become ``target`` only when the block ends without an error: they go
    to a temporary file in the same folder, synced, then renamed over ``target``, so a crash or a
    full disk never leaves a truncated file under the final name."""
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as writer:
            yield writer
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class EvidenceStore:
    """Write-once files named by their SHA-256 under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create evidence store at {self.root}: {exc}") from exc

    def put(self, data: bytes, ext: str) -> str:
        """Store ``data`` (idempotent) and return its SHA-256 hex digest."""
        if not _EXT.match(ext):
            raise ValueError(
                f"evidence extension must be 1-8 lowercase letters/digits, got {ext!r}"
            )
        sha = sha256_bytes(data)
        target = self._target(sha, ext)
        if target.is_file() and target.stat().st_size == len(data):
            return sha
        target.parent.mkdir(exist_ok=True)
        with replaced(target) as writer:
            writer.write(data)
        return sha

    def path(self, sha: str) -> Path:
        """The stored file for ``sha``; FileNotFoundError when the store does not hold it."""
        if not _SHA.match(sha):
            raise ValueError(f"not a SHA-256 hex digest: {sha!r}")
        found = sorted(p for p in (self.root / sha[:2]).glob(f"{sha}.*") if p.is_file())
        if not found:
            raise FileNotFoundError(f"evidence {sha} is not in the store at {self.root}")
        return found[0]

    def relpath(self, sha: str) -> str:
        """``path(sha)`` relative to the store root, with forward slashes (for JSON records)."""
        return self.path(sha).relative_to(self.root).as_posix()

    def verify(self, sha: str) -> bool:
        """True when the stored file still hashes to its name."""
        return sha256_file(self.path(sha)) == sha

    def _target(self, sha: str, ext: str) -> Path:
        return self.root / sha[:2] / f"{sha}.{ext}"
