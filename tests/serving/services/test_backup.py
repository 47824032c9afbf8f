"""``shirong backup`` and ``restore``: an online copy taken while photos are posted, restored into a
fresh folder and served there; and the copies, targets and folders they refuse."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from serving import demo
from serving.app import create_app
from serving.cli import main
from serving.config import Settings
from serving.db.models import UserRole
from serving.db.session import make_engine
from serving.services.backup import MANIFEST
from serving.services.outbox import deliver_due
from tests.conftest import COCO_INT8, REPO, WAIT_S, wait_until
from tests.detection.capture.capture_helpers import FFMPEG, RTSP_SERVER, RtspRig
from tests.serving.helpers import (
    PLANTS,
    Api,
    Receiver,
    Served,
    _free_port,
    make_record,
    make_settings,
    png_bytes,
    post_photos,
    post_record,
    shirong_serve,
    upload,
    wait_for_camera,
)


@dataclass(frozen=True)
class Target:
    """Where a restore goes: a fresh database and evidence folder."""

    database_url: str
    evidence_root: Path


@pytest.fixture
def target(database_url: str, tmp_path: Path, postgres_server: str | None) -> Target:
    """An empty target of the backend under test (PostgreSQL: a new, empty database)."""
    root = tmp_path / "restored"
    if database_url.startswith("sqlite"):
        return Target(f"sqlite:///{root}/shirong.db", root / "evidence")
    admin = make_engine(f"{postgres_server}/postgres").execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS shirong_restored WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE shirong_restored"))
    admin.dispose()
    return Target(f"{postgres_server}/shirong_restored", root / "evidence")


def env_of(database_url: str, evidence_root: Path, secret_key: str) -> dict[str, str]:
    return {
        "SHIRONG_ENV": "test",
        "SHIRONG_DATABASE_URL": database_url,
        "SHIRONG_EVIDENCE_ROOT": str(evidence_root),
        "SHIRONG_SECRET_KEY": secret_key,
    }


def secret(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


def source_env(settings: Settings) -> dict[str, str]:
    return env_of(settings.database_url, settings.evidence_root, secret(settings))


@dataclass
class Cli:
    """``shirong`` run in this process under SHIRONG_* variables: (exit status, stdout, stderr)."""

    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def __call__(self, env: dict[str, str], *argv: str) -> tuple[int, str, str]:
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)
        status = main(list(argv))
        out = self.capsys.readouterr()
        return status, out.out, out.err


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, capsys)


def manifest_of(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / MANIFEST).read_bytes()))


# --- the whole path: a live photo load, restored and served -------------------------------------


@dataclass
class PhotoLoad:
    """Posts distinct photos through the API from a thread; keeps what each answer acknowledged."""

    api: Api
    acked: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (time, PhotoOut)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _errors: list[str] = field(default_factory=list)
    _image: Image.Image = field(init=False)

    def __post_init__(self) -> None:
        with Image.open(PLANTS) as image:
            self._image = image.convert("RGB")

    def post_one(self) -> dict[str, Any]:
        n, image = len(self.acked), self._image.copy()
        # A patch in the corner, its colour the photo's number: other pixels, so other evidence
        # frames (files) of the same scene.
        image.paste((n * 16 % 256, n // 16 * 16 % 256, 128), (0, 0, 16, 16))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        response = post_photos(self.api, buffer.getvalue())
        assert response.status_code == 200, response.text
        (result,) = response.json()
        assert result["created"] and result["incidents"], result
        self.acked.append((time.monotonic(), result))
        return dict(result)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.post_one()
            except AssertionError as exc:
                self._errors.append(str(exc))
                return

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=WAIT_S)
        assert not self._errors, self._errors

    def incidents(self, until: float = float("inf")) -> set[int]:
        return {i["id"] for at, photo in self.acked if at < until for i in photo["incidents"]}


def take_backup(settings: Settings, dest: Path) -> tuple[float, float]:
    """``shirong backup DEST`` in a process of its own, as an operator runs it beside the service;
    when it started and ended (monotonic)."""
    started = time.monotonic()
    taken = subprocess.run(
        [sys.executable, "-m", "serving.cli", "backup", str(dest)],
        cwd=REPO,
        env={**os.environ, **source_env(settings)},
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert taken.returncode == 0, taken.stderr
    return started, time.monotonic()


@contextmanager
def serve_restored(
    tmp_path: Path, target: Target, settings: Settings, headers: dict[str, str], **env: str
) -> Iterator[tuple[Served, httpx.Client]]:
    """``shirong serve`` on the restored target, under the source's secret key; a client
    carrying ``headers`` (a token issued by the source service: sessions survive)."""
    paths = {"database_url": target.database_url, "evidence_root": str(target.evidence_root)}
    with (
        shirong_serve(tmp_path / "served", secret_key=secret(settings), **paths, **env) as served,
        httpx.Client(base_url=served.url, headers=headers, timeout=WAIT_S) as http,
    ):
        yield served, http


def open_every_link(http: httpx.Client, shas: set[str]) -> None:
    """Each evidence file opens, and is the file its name says."""
    assert shas
    for sha in shas:
        answer = http.get(f"/evidence/{sha}")
        assert answer.status_code == 200, (sha, answer.text)
        assert hashlib.sha256(answer.content).hexdigest() == sha


def _deliver(api: Api) -> None:
    with httpx.Client() as client:
        deliver_due(api.services.sessions, api.services.settings, client)


@pytest.mark.slow
@pytest.mark.shared_data
def test_a_backup_under_photo_load_restores_every_ticket_incident_and_link(
    database_url: str, tmp_path: Path, target: Target, cli: Cli
) -> None:
    settings = make_settings(database_url, tmp_path, model_path=COCO_INT8)
    receiver = Receiver(_free_port())
    receiver.start()
    dest = tmp_path / "backup"
    try:
        with TestClient(create_app(settings)) as client:
            api = Api(client)
            squad = api.squad("west")
            api.ok("POST", "/webhooks", json={"name": "群", "url": receiver.url})
            load = PhotoLoad(api)
            first = [load.post_one() for _ in range(2)]
            reviewer = api.actor(UserRole.REVIEWER)
            tickets = [
                api.ok(
                    "POST",
                    f"/incidents/{p['incidents'][0]['id']}/reviews",
                    reviewer,
                    json={"action": "confirm"},
                )["ticket_id"]
                for p in first
            ]
            _deliver(api)  # ticket.created: delivered before the backup, never sent again
            for ticket in tickets:
                dispatch = {"squad_id": squad, "note": "速办"}
                api.ok("POST", f"/tickets/{ticket}/dispatch", json=dispatch)
            pending = {m["idempotency_key"] for m in api.ok("GET", "/outbox?status=pending")}
            assert len(pending) == len(tickets)  # ticket.dispatch, pending at the backup
            load.start()
            wait_until(lambda: len(load.acked) >= 4, "photos posted by the load")
            started, ended = take_backup(settings, dest)
            wait_until(lambda: load.acked[-1][0] > ended, "a photo posted after the backup")
            load.stop()
            during = [at for at, _ in load.acked if started < at < ended]
            assert during, "no photo was acknowledged while the backup ran"
            _deliver(api)  # the live service sends the pending messages after the backup
            sent = {m["idempotency_key"]: m for m in api.ok("GET", "/outbox?limit=500")}
            photo_shas = {p["photo"]["sha256"] for _, p in load.acked}
            admin = api.admin.headers
        before_backup, all_incidents = load.incidents(until=started), load.incidents()
        assert len(all_incidents) > len(before_backup)

        manifest = manifest_of(dest)
        assert manifest["database"]["kind"] == database_url.split(":")[0].split("+")[0]
        copied = {Path(f["path"]).stem for f in manifest["files"] if f["path"].startswith("ev")}
        assert manifest["missing"] == []
        restore_env = env_of(target.database_url, target.evidence_root, secret(settings))
        status, out, err = cli(restore_env, "restore", str(dest))
        assert (status, err) == (0, ""), err
        assert f"{len(tickets)} tickets" in out and f"{len(copied)} evidence files" in out
        assert "2 undelivered webhook messages marked restored" in out

        restored_env = {"dispatch_worker": "true", "dispatch_poll_s": "0.2"}
        with serve_restored(tmp_path, target, settings, admin, **restored_env) as (served, http):
            restored_tickets = http.get("/tickets", params={"limit": 500}).json()
            assert sorted(t["id"] for t in restored_tickets) == sorted(tickets)
            restored = http.get("/incidents", params={"limit": 500}).json()
            ids = {i["id"] for i in restored}
            assert before_backup <= ids <= all_incidents, "an acknowledged incident is lost"
            links = {sha for i in restored for sha in i["evidence"]}
            links |= {sha for t in restored_tickets for sha in t["evidence"]}
            assert links <= copied and copied - links <= photo_shas
            open_every_link(http, links | (copied & photo_shas))
            signed = [url for _, body in receiver.requests for url in body["evidence_urls"]]
            assert signed, "the webhook messages carry signed evidence links"
            for url in signed:  # sent before the backup; open on the restored service
                parts = urlsplit(url)
                answer = httpx.get(f"{served.url}{parts.path}?{parts.query}", timeout=WAIT_S)
                assert answer.status_code == 200, (url, answer.text)

            def resent() -> list[str]:
                keys = [h["Idempotency-Key"] for h, _ in receiver.requests]
                return [k for k in keys if k in pending and keys.count(k) == 2]

            wait_until(lambda: len(set(resent())) == len(pending), "the restored re-sends")
            outbox = http.get("/outbox", params={"limit": 500}).json()
            assert {m["idempotency_key"] for m in outbox if m["restored_at"]} == pending
    finally:
        receiver.stop()
    keys = [headers["Idempotency-Key"] for headers, _ in receiver.requests]
    assert set(keys) <= set(sent), "a message was sent without its original key"
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == sorted(pending)
    assert {sent[k]["event"] for k in pending} == {"ticket.dispatch"}


@pytest.mark.slow
@pytest.mark.rtsp
@pytest.mark.shared_data
def test_a_backup_while_a_camera_records_restores_its_incidents(
    sqlite_template: Path, tmp_path: Path, cli: Cli
) -> None:
    if not FFMPEG or not RTSP_SERVER:
        pytest.skip("RTSP tests need ffmpeg and rtsp-server-perl (scripts/setup.sh installs both)")
    database = tmp_path / "shirong.db"
    shutil.copyfile(sqlite_template, database)
    settings = make_settings(
        f"sqlite:///{database}", tmp_path, model_path=COCO_INT8, camera_workers=True
    )
    target = Target(f"sqlite:///{tmp_path}/restored/shirong.db", tmp_path / "restored" / "ev")
    clip = demo.build_clip([PLANTS], tmp_path / "street.mp4", seconds_each=4)
    dest = tmp_path / "backup"
    with RtspRig(tmp_path, clip).running() as rig, TestClient(create_app(settings)) as client:
        api = Api(client)
        body = {
            "code": "cam-backup",
            "stream_url": rig.url(),
            "rtsp_transport": "udp",
            "config": demo.demo_config(),
        }
        camera = api.ok("POST", "/cameras", json=body)["id"]

        def camera_incidents() -> list[dict[str, Any]]:
            return list(api.ok("GET", "/incidents?camera_id=cam-backup&limit=500"))

        wait_until(camera_incidents, "an incident from the camera")
        before = {i["id"]: i for i in camera_incidents()}
        frames = wait_for_camera(api, camera, lambda s: s["state"] == "online", "online")
        take_backup(settings, dest)
        wait_for_camera(
            api,
            camera,
            lambda s: s["frames_analysed"] > frames["frames_analysed"] + 2,
            "the camera analysing on after the backup",
        )
        admin = api.admin.headers
    status, out, err = cli(
        env_of(target.database_url, target.evidence_root, secret(settings)), "restore", str(dest)
    )
    assert (status, err) == (0, ""), err
    assert "0 tickets, " in out
    with serve_restored(tmp_path, target, settings, admin) as (_, http):
        (restored_camera,) = http.get("/cameras").json()
        assert restored_camera["code"] == "cam-backup"
        restored = http.get("/incidents", params={"camera_id": "cam-backup"}).json()
        assert set(before) <= {i["id"] for i in restored}, "an incident seen before is lost"
        open_every_link(http, {sha for i in restored for sha in i["evidence"]})


# --- bad input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    settings: Settings
    photo: str  # SHA-256 of an uploaded photo (its file is in the store)
    token: dict[str, str]


@pytest.fixture
def source(database_url: str, tmp_path: Path) -> Source:
    """A small database (the service stopped): one uploaded photo, one incident whose evidence
    files are absent."""
    settings = make_settings(database_url, tmp_path / "live")
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        photo = upload(api, png_bytes(16, 12))
        assert photo.status_code in (200, 201), photo.text
        post_record(api, make_record())
    return Source(settings, photo.json()["sha256"], api.admin.headers)


def _backup(cli: Cli, source: Source, dest: Path) -> None:
    status, _, err = cli(source_env(source.settings), "backup", str(dest))
    assert status == 0, err


def _flip(path: Path, offset: int = 40) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_backup_names_the_files_the_store_lacks_or_holds_damaged(
    source: Source, tmp_path: Path, cli: Cli
) -> None:
    photo = source.settings.evidence_root / source.photo[:2] / f"{source.photo}.png"
    _flip(photo)
    status, out, _ = cli(source_env(source.settings), "backup", str(tmp_path / "b"))
    assert status == 0
    manifest = manifest_of(tmp_path / "b")
    assert [Path(f["path"]).stem for f in manifest["files"]] == ["database", source.photo]
    assert len(manifest["missing"]) == 6  # the record's original, annotated and crop, twice
    assert "missing: 6 files the database refers to are not in the evidence store" in out
    assert (
        "damaged: 1 files in the evidence store do not hash to their names (copied as they "
        f"are): {source.photo[:2]}/{source.photo}.png"
    ) in out
    assert secret(source.settings) not in (tmp_path / "b" / MANIFEST).read_text()


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("evidence", "evidence/"),
        ("database", "database."),
        ("manifest", f"{MANIFEST} was altered after it was written"),
        ("unfinished", f"has no {MANIFEST}: it is not a backup, or one whose writing never"),
    ],
)
def test_a_copy_that_does_not_verify_is_refused_naming_the_file(
    source: Source, target: Target, tmp_path: Path, cli: Cli, damage: str, named: str
) -> None:
    dest = tmp_path / "b"
    _backup(cli, source, dest)
    files = {f["path"]: f for f in manifest_of(dest)["files"]}
    evidence = next(p for p in files if p.startswith("evidence/"))
    database = next(p for p in files if p.startswith("database."))
    if damage == "evidence":
        _flip(dest / evidence)
        named = f"{evidence}: SHA-256 "
    elif damage == "database":
        _flip(dest / database, offset=files[database]["bytes"] - 10)
        named = f"{database}: SHA-256 "
    elif damage == "manifest":
        _flip(dest / MANIFEST, offset=(dest / MANIFEST).read_bytes().index(b"created_at") + 16)
    else:
        (dest / MANIFEST).unlink()
    restore_env = env_of(target.database_url, target.evidence_root, secret(source.settings))
    status, _, err = cli(restore_env, "restore", str(dest))
    assert status == 2
    assert named in err
    assert not target.evidence_root.exists(), "a refused copy must leave the target untouched"


def test_a_target_that_holds_data_is_replaced_only_with_force(
    source: Source, tmp_path: Path, cli: Cli
) -> None:
    dest = tmp_path / "b"
    _backup(cli, source, dest)
    env = source_env(source.settings)  # the live database and store themselves hold data
    status, _, err = cli(env, "restore", str(dest))
    assert status == 2
    assert "the target already holds data (database tables " in err
    assert "files in the evidence folder" in err and "pass --force" in err
    status, out, err = cli(env, "restore", "--force", str(dest))
    assert (status, err) == (0, "")
    assert "0 tickets, 1 incidents, 1 evidence files" in out
    with TestClient(create_app(source.settings)) as client:
        assert client.get(f"/evidence/{source.photo}", headers=source.token).status_code == 200


def test_a_restore_under_another_secret_key_warns_and_ends_the_sessions(
    source: Source, target: Target, tmp_path: Path, cli: Cli
) -> None:
    dest = tmp_path / "b"
    _backup(cli, source, dest)
    other = "another-secret-key-of-the-restored-service"
    status, _, err = cli(
        env_of(target.database_url, target.evidence_root, other), "restore", str(dest)
    )
    assert status == 0
    assert err == (
        "shirong restore: warning: SHIRONG_SECRET_KEY differs from the key this backup was taken "
        "under: evidence links already sent (webhooks, reports) answer 403 and every login "
        "session ends (users log in again); restore under the old key to keep them\n"
    )
    settings = make_settings(
        target.database_url, tmp_path, evidence_root=target.evidence_root, secret_key=other
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/tickets", headers=source.token).status_code == 401


def test_a_copy_is_refused_by_a_database_of_the_other_kind(
    source: Source, tmp_path: Path, cli: Cli
) -> None:
    dest = tmp_path / "b"
    _backup(cli, source, dest)
    kind = manifest_of(dest)["database"]["kind"]
    other = {  # refused before any connection: neither is ever reached
        "sqlite": "postgresql+psycopg://shirong@127.0.0.1:1/never_reached",
        "postgresql": f"sqlite:///{tmp_path}/never_written.db",
    }[kind]
    status, _, err = cli(
        env_of(other, tmp_path / "ev", secret(source.settings)), "restore", str(dest)
    )
    assert status == 2
    assert f"the backup holds a {kind} database and SHIRONG_DATABASE_URL is " in err
    assert not (tmp_path / "never_written.db").exists()


def test_a_backup_from_a_newer_schema_is_refused(
    source: Source, target: Target, tmp_path: Path, cli: Cli
) -> None:
    engine = make_engine(source.settings.database_url)
    stamp = text("UPDATE alembic_version SET version_num = :v")
    with engine.begin() as conn:  # as a later shirong's migration would leave it
        head = conn.scalar(text("SELECT version_num FROM alembic_version"))
        conn.execute(stamp, {"v": "0999"})
    dest = tmp_path / "b"
    try:
        _backup(cli, source, dest)
    finally:  # the PostgreSQL test database is shared by the tests that follow
        with engine.begin() as conn:
            conn.execute(stamp, {"v": head})
        engine.dispose()
    assert manifest_of(dest)["database"]["schema_head"] == "0999"
    env = env_of(target.database_url, target.evidence_root, secret(source.settings))
    status, _, err = cli(env, "restore", str(dest))
    assert status == 2
    assert "the backup's schema is at revision 0999, which this shirong does not know" in err


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("under-a-file", "Not a directory"),
        ("not-empty", "is not empty: back up into a new or empty folder"),
        ("a-file", "is not a folder: back up into a new or empty folder"),
        pytest.param(
            "read-only",
            "Permission denied",
            marks=pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only folders"),
        ),
    ],
)
def test_a_dest_that_cannot_take_a_backup_is_refused(
    source: Source, tmp_path: Path, cli: Cli, where: str, reason: str
) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "older").write_text("x")
    (tmp_path / "ro").mkdir(mode=0o555)
    dest = {
        "under-a-file": tmp_path / "file" / "backup",
        "not-empty": tmp_path / "full",
        "a-file": tmp_path / "file",
        "read-only": tmp_path / "ro",
    }[where]
    status, _, err = cli(source_env(source.settings), "backup", str(dest))
    assert status == 2
    assert err.startswith("shirong backup: error: ") and str(dest) in err and reason in err
