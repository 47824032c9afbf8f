"""Work on a schedule, and bounded slots for costly work: how services share the machine."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from serving.services.errors import BusyError

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Runs ``action`` now and then every ``every_s`` seconds in a daemon thread until stopped.

    A failing round is logged and the schedule goes on: a database or disk hiccup must not end
    webhook delivery or retention.
    """

    def __init__(self, name: str, action: Callable[[], object], every_s: float) -> None:
        self._action = action
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"shirong-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._action()
            except Exception:
                log.exception("%s round failed", self._thread.name)
            self._stop.wait(self._every_s)


class Slots:
    """At most ``count`` holders at once; a caller that waits ``wait_s`` in vain gets BusyError
    (503 with Retry-After) instead of joining an unbounded queue."""

    def __init__(self, count: int, wait_s: float, busy: str, retry_after_s: int) -> None:
        self._semaphore = threading.BoundedSemaphore(count)
        self._wait_s = wait_s
        self._busy = busy
        self._retry_after_s = retry_after_s

    @contextmanager
    def hold(self) -> Iterator[None]:
        if not self._semaphore.acquire(timeout=self._wait_s):
            raise BusyError(self._busy, retry_after_s=self._retry_after_s)
        try:
            yield
        finally:
            self._semaphore.release()
