"""What the supervisor and the job dispatcher hold of a worker, whichever backend runs it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from serving.services.photos import Analysed


class CameraHandle(Protocol):
    """A running camera worker, as its supervisor holds it."""

    restarts_itself: bool  # Ray restarts a dead actor; a local process is restarted by us

    def exit_reason(self) -> str | None:
        """Why the worker ended (None while it runs, or where the backend restarts it)."""
        ...

    def stop(self, timeout_s: float) -> None:
        """Ask it to close its open incidents and end; kill it after ``timeout_s``."""
        ...

    def kill(self) -> None:
        """End it at once (a hung or leaking worker); it is then restarted."""
        ...

    def pending(self) -> str | None:
        """Why it is not running yet (no node has room), or None."""
        ...


class JobHandle(Protocol):
    def wait(self, timeout_s: float) -> bool:
        """True once the worker has ended (for any reason)."""
        ...

    def died(self) -> str | None:
        """Why the worker died without finishing its job (None: it ended by itself)."""
        ...

    def stop(self) -> None:
        """Interrupt it (the job is queued again)."""
        ...


class Backend(Protocol):
    name: str

    def start_camera(self, camera_id: int) -> CameraHandle: ...

    def start_job(self, job_id: int) -> JobHandle: ...

    def analyse_photo(self, sha256: str, stored_at: datetime) -> Analysed: ...

    def close(self) -> None: ...
