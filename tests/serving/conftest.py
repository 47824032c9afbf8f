"""Fixtures for the ticket service: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL is a throw-away cluster (initdb in a temporary folder, ``postgres`` on a free loopback
port, run as the ``postgres`` OS user when the tests run as root). It is skipped, with the reason,
only where the server binaries are absent (``scripts/setup.sh`` installs Debian's postgresql).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from serving.app import create_app
from serving.config import Settings
from serving.db.session import make_engine
from serving.migrations import upgrade
from tests.conftest import WAIT_S
from tests.serving.helpers import (
    BACKENDS,
    Api,
    World,
    _free_port,
    emptied,
    make_settings,
)


def _as_postgres() -> dict[str, Any]:
    """Popen arguments that drop root to the postgres user (postgres refuses to run as root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": [], "cwd": "/"}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """Base URL of a private PostgreSQL server, or None where the binaries are absent."""
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb:
        yield None
        return
    bindir = Path(initdb[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="shirong-pg-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        initdb_args = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(folder / "data"), *initdb_args],
            check=True,
            capture_output=True,
            **_as_postgres(),
        )
        port = _free_port()
        options = ["listen_addresses=127.0.0.1", "fsync=off", "synchronous_commit=off"]
        command = [str(bindir / "postgres"), "-D", str(folder / "data"), "-p", str(port)]
        command += ["-k", str(folder), *(arg for option in options for arg in ("-c", option))]
        server = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            **_as_postgres(),
        )
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
        _wait_for(url, server)
        yield url
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)  # fast shutdown: do not wait for idle clients
            server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    engine = make_engine(f"{url}/postgres")
    deadline = time.monotonic() + WAIT_S
    try:
        while True:
            try:
                with engine.connect():
                    return
            except Exception:
                if server.poll() is not None or time.monotonic() > deadline:
                    err = server.stderr.read().decode() if server.stderr else ""
                    raise RuntimeError(f"postgres did not start: {err}") from None
                time.sleep(0.1)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str | None) -> Iterator[str | None]:
    """A migrated database on the private server (tables are emptied before each test)."""
    if postgres_server is None:
        yield None
        return
    admin = make_engine(f"{postgres_server}/postgres").execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE shirong_test"))
    admin.dispose()
    url = f"{postgres_server}/shirong_test"
    upgrade(url)
    yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "shirong.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_database: str | None,
) -> str:
    """An empty, migrated database of each backend."""
    if request.param == "sqlite":
        target = tmp_path / "shirong.db"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite:///{target}"
    return emptied(postgres_database)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


@pytest.fixture
def world(api: Api) -> World:
    """Squads, officers, a dispatcher and a photo: the ticket tests' starting point."""
    return World(api)
