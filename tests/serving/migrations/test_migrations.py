"""The Alembic migrations create exactly the tables the ORM models describe, on both databases;
the service migrates a blank or an old database at start-up and leaves a current one alone."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from serving.app import create_app
from serving.db.base import Base
from serving.db.session import make_engine
from serving.migrations import HERE, alembic_config, at_head, upgrade
from tests.serving.helpers import BACKENDS, make_settings


@pytest.fixture(params=BACKENDS)
def blank_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: str | None
) -> Iterator[str]:
    """A database without tables on each backend (on PostgreSQL its own, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    if postgres_server is None:
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are absent")
    name = f"blank_{secrets.token_hex(4)}"
    admin = make_engine(f"{postgres_server}/postgres").execution_options(
        isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        yield f"{postgres_server}/{name}"
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    finally:
        admin.dispose()


def schema_differences(database_url: str) -> list[Any]:
    """What the database lacks or has beyond the ORM models (Alembic's autogenerate diff)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"render_as_batch": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_the_service_migrates_a_blank_database_at_start_up(blank_url: str, tmp_path: Path) -> None:
    assert not at_head(blank_url)
    with TestClient(create_app(make_settings(blank_url, tmp_path))):
        assert at_head(blank_url)
    assert schema_differences(blank_url) == []


def test_the_service_upgrades_an_old_database_at_start_up(blank_url: str, tmp_path: Path) -> None:
    scripts = ScriptDirectory(str(HERE))
    head = scripts.get_revision(scripts.get_current_head())
    assert isinstance(head.down_revision, str), "the head has one parent"
    upgrade(blank_url, head.down_revision)
    assert not at_head(blank_url)
    assert schema_differences(blank_url) != []
    with TestClient(create_app(make_settings(blank_url, tmp_path))):
        assert at_head(blank_url)
    assert schema_differences(blank_url) == []


def test_a_current_database_is_left_alone(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Not even Alembic's environment runs (each of its runs logs its context at INFO)."""
    with caplog.at_level(logging.INFO, logger="alembic"):
        upgrade(database_url)
    assert at_head(database_url)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
            assert context.get_current_revision() == head
    finally:
        engine.dispose()
    assert schema_differences(database_url) == []


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/wal.db")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
