"""Reused answers of polled lists: kept until this process writes or a second passes; ETags."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import Integer, String, create_engine, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from serving.db.models import Ticket
from serving.db.session import make_engine, make_session_factory
from serving.services.read_cache import ReadCache, WriteCounter
from tests.serving.helpers import Api


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(10))


@pytest.fixture
def sessions() -> sessionmaker[Session]:
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    return sessionmaker(engine)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_reused_until_a_write_commits(sessions: sessionmaker[Session]) -> None:
    cache = ReadCache(WriteCounter(sessions), clock=Clock())
    cache.put("k", b"[]", cache.version)
    assert cache.get("k") == b"[]"
    with sessions() as session:  # a read-only commit changes nothing
        session.get(_Row, 1)
        session.commit()
    assert cache.get("k") == b"[]"
    with sessions() as session:
        session.add(_Row(name="x"))
        session.commit()
    assert cache.get("k") is None
    cache.put("k", b"[]", cache.version)
    with sessions() as session:  # a bulk statement writes without a flush
        session.execute(update(_Row).values(name="y"))
        session.commit()
    assert cache.get("k") is None


def test_an_answer_built_while_a_write_committed_is_not_served(
    sessions: sessionmaker[Session],
) -> None:
    cache = ReadCache(WriteCounter(sessions), clock=Clock())
    version = cache.version  # taken before reading
    with sessions() as session:
        session.add(_Row(name="x"))
        session.commit()
    cache.put("k", b"stale", version)
    assert cache.get("k") is None


def test_an_answer_expires_and_the_oldest_answers_go_first(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock()
    cache = ReadCache(WriteCounter(sessions), ttl_s=1.0, entries=2, clock=clock)
    for key in ("a", "b"):
        cache.put(key, key.encode(), cache.version)
    assert cache.get("a") == b"a"  # "b" is now the least recently used
    cache.put("c", b"c", cache.version)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"a", None, b"c")
    clock.now = 1.0
    assert cache.get("a") is None


def poll(api: Api, etag: str | None = None) -> tuple[int, str, list[dict[str, object]]]:
    headers = {**api.admin.headers, **({"If-None-Match": etag} if etag else {})}
    response = api.client.get("/tickets", headers=headers)
    return (
        response.status_code,
        response.headers["ETag"],
        response.json() if response.content else [],
    )


def complaint(api: Api, text: str) -> int:
    body = {"clause": "3a", "description": text, "complaint": True}
    return int(api.ok("POST", "/tickets", json=body)["id"])


def test_a_ticket_board_sees_its_own_writes_at_once_and_polls_with_etags(api: Api) -> None:
    first = complaint(api, "门前堆放纸箱")
    status, etag, tickets = poll(api)
    assert (status, [t["id"] for t in tickets]) == (200, [first])
    assert poll(api, etag)[:2] == (304, etag)
    second = complaint(api, "占道经营")  # a write in this process: the next read has it
    status, new_etag, tickets = poll(api, etag)
    assert status == 200 and new_etag != etag
    assert {t["id"] for t in tickets} == {first, second}


def test_another_process_write_shows_within_a_second(api: Api) -> None:
    ticket = complaint(api, "门前堆放纸箱")
    assert poll(api)[2][0]["description"] == "门前堆放纸箱"
    other = make_session_factory(make_engine(api.services.settings.database_url))
    with other() as session:  # not this app's sessions: as if written by another process
        session.execute(update(Ticket).where(Ticket.id == ticket).values(description="改"))
        session.commit()
    time.sleep(1.05)
    assert poll(api)[2][0]["description"] == "改"


def test_misses_at_the_same_time_build_once(sessions: sessionmaker[Session]) -> None:
    cache, builds = ReadCache(WriteCounter(sessions)), []

    async def build() -> bytes:
        builds.append(1)
        await asyncio.sleep(0.05)
        return b"[]"

    async def storm() -> list[bytes]:
        return list(await asyncio.gather(*(cache.shared("k", build) for _ in range(10))))

    assert asyncio.run(storm()) == [b"[]"] * 10
    assert len(builds) == 1
