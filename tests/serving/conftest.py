"""Fixtures for the ticket service: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL is a throw-away cluster (initdb in a temporary folder, ``postgres`` on a free loopback
port, run as the ``postgres`` OS user when the tests run as root). It is skipped, with the reason,
only where the server binaries are absent (``scripts/setup.sh`` installs Debian's postgresql).
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from detection.rules.incident import Incident as IncidentRecord
from detection.taxonomy import default_taxonomy
from serving.app import create_app
from serving.config import Environment, Settings
from serving.db.base import Base
from serving.db.models import UserRole
from serving.db.session import make_engine
from serving.migrations import upgrade
from serving.schemas.auth import UserCreate
from serving.services.auth import issue_token
from serving.services.users import create_user
from serving.workers.context import STORE_MARK
from tests.conftest import REPO, WAIT_S, wait_until

BACKENDS = ("sqlite", "postgresql")
PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres() -> dict[str, Any]:
    """Popen arguments that drop root to the postgres user (postgres refuses to run as root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": [], "cwd": "/"}


@contextmanager
def uvicorn_thread(app: FastAPI) -> Iterator[int]:
    """``app`` under uvicorn in a thread on a free loopback port; yields the port."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "uvicorn to start")
    if not server.started:
        raise RuntimeError("uvicorn did not start")
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass(frozen=True)
class Served:
    url: str
    pid: int


@contextmanager
def shirong_serve(tmp_path: Path, **env: str) -> Iterator[Served]:
    """``shirong serve`` on a free loopback port with SQLite in ``tmp_path``; ``env``: SHIRONG_*."""
    port = _free_port()
    variables = {
        "SHIRONG_ENV": "development",
        "SHIRONG_DATABASE_URL": f"sqlite:///{tmp_path}/serve.db",
        "SHIRONG_EVIDENCE_ROOT": str(tmp_path / "evidence"),
        "SHIRONG_DISPATCH_WORKER": "false",
        "SHIRONG_CAMERA_WORKERS": "false",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "serving.cli", "serve", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, **variables, **{f"SHIRONG_{k.upper()}": v for k, v in env.items()}},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while server.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            server.kill()
            pytest.fail(f"shirong serve did not start: {server.communicate()[0].decode()}")
        yield Served(url, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


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


def emptied(postgres_database: str | None) -> str:
    """The test server's database with every table emptied (skips where there is no server)."""
    if postgres_database is None:
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are absent")
    engine = make_engine(postgres_database)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_database


def make_settings(database_url: str, root: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": Environment.TEST,
        "database_url": database_url,
        "evidence_root": root / "evidence",
        "secret_key": secrets.token_urlsafe(32),
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "dispatch_worker": False,
        # No stream workers unless a test asks: generated cameras must never be dialled.
        "camera_workers": False,
        # Recurrence linking off unless a test asks: most tests post records of one place and
        # want them apart (tests/serving/test_recurrence.py turns it on).
        "recurrence_window_hours": 0,
        "public_base_url": "http://shirong.test",
    }
    return Settings(**(values | overrides))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@dataclass(frozen=True)
class Actor:
    id: int
    username: str
    role: UserRole
    squad_id: int | None
    headers: dict[str, str]


class Api:
    """Test helper: creates users with tokens directly (fast) and calls the API as them."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.services = client.app.state.services  # type: ignore[attr-defined]
        self._count = 0
        self.admin = self.actor(UserRole.ADMIN)

    def actor(self, role: UserRole, squad_id: int | None = None) -> Actor:
        self._count += 1
        name = f"{role.value}{self._count}"
        with self.services.sessions() as session:
            user = create_user(
                session,
                self.services.passwords,
                UserCreate(username=name, password=PASSWORD, role=role, squad_id=squad_id),
            )
            token = issue_token(session, self.services.settings, user)
            session.commit()
            return Actor(user.id, name, role, squad_id, {"Authorization": f"Bearer {token.token}"})

    def ok(self, method: str, path: str, actor: Actor | None = None, **kwargs: Any) -> Any:
        """Call and expect a 2xx; returns the JSON body (None for 204)."""
        response = self.client.request(
            method, path, headers=(actor or self.admin).headers, **kwargs
        )
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return None if response.status_code == 204 else response.json()

    def squad(self, code: str, kind: str = "area", **fields: Any) -> int:
        body = {"code": code, "name": f"{code} 中队", "kind": kind, **fields}
        return int(self.ok("POST", "/squads", json=body)["id"])


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_record(
    clause_id: str = "3a",
    record_id: str = "11111111-1111-4111-8111-111111111111",
    source_id: str = "cam-w",
    first_seen: datetime = datetime(2026, 5, 4, 2, 0, tzinfo=UTC),  # 10:00 in Shanghai
    location: tuple[float, float] | None = (36.05, 120.02),
    classes: tuple[str, ...] = ("garbage_bag",),
    **overrides: Any,
) -> IncidentRecord:
    """A rules-engine incident record as ``detection.rules`` builds it, evidence included."""
    taxonomy = default_taxonomy()
    clause = taxonomy.clause(clause_id)
    standard = taxonomy.standard(clause.standard_id)
    last_seen = first_seen + timedelta(minutes=5)

    def file(kind: str, ext: str) -> dict[str, Any]:
        digest = sha(f"{record_id}/{kind}")
        return {
            "sha256": digest,
            "path": f"{digest[:2]}/{digest}.{ext}",
            "media_type": "image/png" if ext == "png" else "image/jpeg",
            "bytes": 1000,
        }

    def frame(name: str, index: int) -> dict[str, Any]:
        return {
            "frame_index": index,
            "pts": index / 25,
            "wall_time": first_seen.isoformat(),
            "confidence": 0.8,
            "region_xyxy": [10.0, 20.0, 110.0, 220.0],
            "original": file(f"{name}-original", "png"),
            "annotated": file(f"{name}-annotated", "jpg"),
            "crop": file(f"{name}-crop", "png"),
        }

    tracks = [
        {
            "key": i + 1,
            "tracker_ids": [i + 7],
            "class_name": name,
            "name_zh": taxonomy.cls(name).name_zh,
            "role": taxonomy.cls(name).role.value,
            "first_seen": first_seen.isoformat(),
            "last_seen": last_seen.isoformat(),
            "frames": 30,
            "dwell_s": 300.0,
            "best_confidence": 0.8,
        }
        for i, name in enumerate(classes)
    ]
    record: dict[str, Any] = {
        "id": record_id,
        "status": "closed",
        "source": {"id": source_id, "name": "测试摄像头"},
        "standard": standard.model_dump(include={"id", "key", "name_zh", "name_en"}),
        "clause": clause.model_dump(include={"id", "key", "name_zh", "name_en", "text_zh"}),
        "rule": f"{clause_id}.test_rule",
        "classes": sorted(classes),
        "zone": {"id": "frame", "name": "", "type": "pavement"},
        "first_seen": first_seen.isoformat(),
        "opened_at": (first_seen + timedelta(minutes=1)).isoformat(),
        "last_seen": last_seen.isoformat(),
        "dwell_s": 300.0,
        "observations": 30,
        "confidence": 0.8,
        "in_priority_hours": True,
        "location": None
        if location is None
        else {"lat": location[0], "lon": location[1], "heading": None},
        "frame_size": [1920, 1080],
        "region_xyxy": [10.0, 20.0, 110.0, 220.0],
        "tracks": tracks,
        "evidence": {"opened": frame("opened", 0), "best": frame("best", 12)},
    }
    return IncidentRecord.model_validate(record | overrides)


def post_record(api: Api, record: IncidentRecord, actor: Actor | None = None) -> Any:
    """POST exactly what the rules engine writes (``Incident.to_json()``)."""
    response = api.client.post(
        "/incidents",
        content=record.to_json(),
        headers={**(actor or api.admin).headers, "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def png_bytes(
    width: int = 8, height: int = 6, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(api: Api, data: bytes, actor: Actor | None = None, name: str = "photo.png") -> Any:
    """POST a file to /evidence; returns the response."""
    return api.client.post(
        "/evidence", headers=(actor or api.admin).headers, files={"file": (name, data)}
    )


def wait_for_camera(
    api: Api,
    camera_id: int,
    ok: Callable[[dict[str, Any]], bool],
    what: str,
    timeout_s: float = WAIT_S,
) -> Any:
    """Poll a camera's status until ``ok`` holds; fail naming ``what`` and the last status."""
    last: dict[str, Any] = {}

    def status() -> dict[str, Any] | None:
        last.update(status=api.ok("GET", f"/cameras/{camera_id}/status"))
        return last["status"] if ok(last["status"]) else None

    return wait_until(status, lambda: f"{what}; last status {last['status']}", timeout_s, 0.1)


def error_message(response: httpx.Response) -> str:
    """An error's message: ``detail`` itself, or a 422's list of ``{loc, msg, type}`` joined."""
    detail = response.json()["detail"]
    return detail if isinstance(detail, str) else "; ".join(item["msg"] for item in detail)


def stored_files(root: Path) -> list[Path]:
    """Files in an evidence store but the service's own mark (``serving.workers.context``)."""
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != STORE_MARK)
