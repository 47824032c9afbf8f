"""Camera heartbeats (``camera_runtime`` rows): written by camera workers, read by the watchdog
and the status route. One row per camera; the database is the channel because it is the one
thing a local worker process and a Ray actor on another node both reach."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from serving.db.base import utcnow
from serving.db.models import CameraRuntime, CameraState

ERROR_MAX = 2000


def reset(session: Session, camera_id: int) -> None:
    """A start by a user: counters from zero, no crash behind it."""
    session.execute(delete(CameraRuntime).where(CameraRuntime.camera_id == camera_id))
    session.add(CameraRuntime(camera_id=camera_id, state=CameraState.CONNECTING.value))
    session.commit()


def begin(session: Session, camera_id: int, node: str) -> CameraRuntime:
    """A worker (re)starting: one more start, on ``node``; the row as it then stands."""
    row = session.get(CameraRuntime, camera_id)
    if row is None:
        row = CameraRuntime(camera_id=camera_id, frames_analysed=0, crashes_in_a_row=0, starts=0)
        session.add(row)
    row.starts += 1
    row.node, row.state, row.beat_at = node[:100], CameraState.CONNECTING.value, utcnow()
    row.abandoned_readers = row.reconnects = 0
    session.commit()
    return row


def beat(session: Session, camera_id: int, **values: object) -> None:
    """The worker's latest figures (a row removed meanwhile is left removed)."""
    if isinstance(values.get("last_error"), str):
        values["last_error"] = str(values["last_error"])[:ERROR_MAX]
    values["beat_at"] = utcnow()
    session.execute(
        update(CameraRuntime).where(CameraRuntime.camera_id == camera_id).values(**values)
    )
    session.commit()


def crashed(session: Session, camera_id: int, error: str) -> None:
    """The worker ended with ``error`` (or the watchdog killed it for that reason)."""
    beat(
        session,
        camera_id,
        state=CameraState.OFFLINE.value,
        last_error=error,
        crashes_in_a_row=CameraRuntime.crashes_in_a_row + 1,
    )


def get(session: Session, camera_id: int) -> CameraRuntime | None:
    return session.get(CameraRuntime, camera_id)


def silent_for(row: CameraRuntime, now: datetime | None = None) -> float:
    """Seconds since the worker last reported."""
    return ((now or utcnow()) - row.beat_at).total_seconds()
