"""``incidents.jsonl``: one JSON object per incident, safe against crashes.

A new incident is appended as one line and flushed to disk at once, so a crash loses at most the
updates since the last snapshot, never an incident. Updates are folded into snapshots: the whole
file is rewritten to a temporary file and renamed over the old one (atomic on POSIX), on every
closed incident, every ``snapshot_every_s`` seconds and at the end. Reopening a file left by a
crashed run keeps its records and drops a torn last line with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from detection.errors import InputError
from detection.rules.incident import Incident

log = logging.getLogger(__name__)


class IncidentLog:
    """Latest state of every incident, one line each."""

    def __init__(self, path: str | os.PathLike[str], snapshot_every_s: float = 10.0) -> None:
        self.path = Path(path)
        self.snapshot_every_s = snapshot_every_s
        self._lines: dict[str, str] = self._load()
        self._dirty = False
        self._last_snapshot = time.monotonic()
        self._fh: IO[str] | None = None
        self.snapshot()

    def __len__(self) -> int:
        return len(self._lines)

    def record(self, incident: Incident) -> None:
        """Store an incident's latest state (appending it at once if it is new)."""
        line = incident.to_json()
        is_new = incident.id not in self._lines
        self._lines[incident.id] = line
        if is_new:
            self._append(line)
        else:
            self._dirty = True
        overdue = time.monotonic() - self._last_snapshot >= self.snapshot_every_s
        if self._dirty and (incident.status == "closed" or overdue):
            self.snapshot()

    def snapshot(self) -> None:
        """Rewrite the file atomically with every incident's latest state."""
        self._close_handle()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.writelines(f"{line}\n" for line in self._lines.values())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._dirty = False
        self._last_snapshot = time.monotonic()

    def close(self) -> None:
        if self._dirty:
            self.snapshot()
        self._close_handle()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _append(self, line: str) -> None:
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(f"{line}\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def _close_handle(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _load(self) -> dict[str, str]:
        """Records of an earlier (possibly crashed) run; unreadable lines are dropped, loudly."""
        if not self.path.exists():
            return {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read incidents file {self.path}: {exc}") from exc
        lines: dict[str, str] = {}
        for number, raw in enumerate(text.splitlines(), 1):
            try:
                record = json.loads(raw)
                lines[str(record["id"])] = raw
            except (json.JSONDecodeError, KeyError, TypeError):
                log.warning("%s line %d is not an incident record; dropped", self.path, number)
        return lines
