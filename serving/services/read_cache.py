"""Serialized answers to frequent reads (ticket boards polled by every squad), kept until a write.

A ticket board asks ``GET /tickets`` every few seconds from many screens; building the same list
of tickets, their recurrence links and their JSON again each time is most of the API's CPU.
:class:`ReadCache` keeps the JSON bytes of an answer, by user and query, while

* no session of this process has committed a write since (:class:`WriteCounter` bumps a counter
  on every commit that flushed or executed a change, so a user's action shows in their next
  read), and
* it is younger than ``ttl_s``, which bounds what another process's writes (camera workers
  storing incidents, a second API process) and the clock (overdue flags) can leave unseen.

A route keys answers by what decides them; ``GET /tickets`` keys them by the caller's token, so a
hit skips the login lookup too: the token was checked for that answer at most ``ttl_s`` ago, and
logging out or deactivating a user is a write that voids every answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

DEFAULT_TTL_S = 1.0
DEFAULT_ENTRIES = 1024


class WriteCounter:
    """Counts commits that wrote something, over every session of one sessionmaker."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.value = 0
        self._lock = threading.Lock()
        event.listen(sessions, "after_flush", _mark_written)
        event.listen(sessions, "do_orm_execute", _mark_dml)
        event.listen(sessions, "after_commit", self._committed)

    def _committed(self, session: Session) -> None:
        if session.info.pop("wrote", False):
            with self._lock:
                self.value += 1


def _mark_written(session: Session, _context: object) -> None:
    session.info["wrote"] = True


def _mark_dml(state: ORMExecuteState) -> None:
    """``session.execute(update(...))`` and the like write without a flush."""
    if state.is_update or state.is_delete or state.is_insert:
        state.session.info["wrote"] = True


class ReadCache:
    """JSON bytes by key, valid while :attr:`writes` is unchanged and for ``ttl_s`` seconds."""

    def __init__(
        self,
        writes: WriteCounter,
        ttl_s: float = DEFAULT_TTL_S,
        entries: int = DEFAULT_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.writes = writes
        self.ttl_s = ttl_s
        self.entries = entries
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[int, float, bytes]] = OrderedDict()
        self._flights: dict[Hashable, asyncio.Future[bytes]] = {}  # event-loop side only

    @property
    def version(self) -> int:
        """Take it before reading the database for an answer, and ``put`` the answer with it."""
        return self.writes.value

    def get(self, key: Hashable) -> bytes | None:
        """The answer stored for ``key`` if nothing was written since and it is fresh."""
        version, now = self.writes.value, self._clock()
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] != version or now - found[1] >= self.ttl_s:
                return None
            self._items.move_to_end(key)
            return found[2]

    def put(self, key: Hashable, body: bytes, version: int) -> None:
        """Store an answer built after ``version`` was taken (a write meanwhile voids it)."""
        with self._lock:
            self._items[key] = (version, self._clock(), body)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    async def shared(self, key: Hashable, build: Callable[[], Awaitable[bytes]]) -> bytes:
        """The stored answer to ``key``, else ``build()`` it and store it. Callers missing
        ``key`` at the same time share one build: when an answer expires under a poll storm, one
        query runs, not one per waiting request. A build that raises stores nothing."""
        body = self.get(key)
        if body is not None:
            return body
        flight = self._flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight)
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        version = self.version  # before the database is read: a write meanwhile voids the answer
        try:
            body = await build()
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._flights[key]
        self.put(key, body, version)
        flight.set_result(body)
        return body
