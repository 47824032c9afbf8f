"""Helpers the serving tests share: settings, an authenticated API client, records with real
evidence, upload and job steps, a webhook receiver, a ticket world, report parsing.

Plain functions, classes and constants; the fixtures are in conftest.py, which imports what they
need from here (and this module imports nothing from a conftest or a test module).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import httpx
import jsonschema
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from sqlalchemy import Engine, event, text

from detection.rules.incident import Incident as IncidentRecord
from detection.taxonomy import default_taxonomy
from serving.config import Environment, Settings
from serving.db.base import Base
from serving.db.models import UserRole
from serving.db.session import make_engine
from serving.schemas.auth import UserCreate
from serving.services.auth import issue_token
from serving.services.evidence import BlobStore
from serving.services.users import create_user
from serving.workers.context import STORE_MARK
from tests.conftest import REPO, SHARED, WAIT_S, wait_until

BACKENDS = ("sqlite", "postgresql")


PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        # want them apart (tests/serving/services/test_recurrence.py turns it on).
        "recurrence_window_hours": 0,
        "public_base_url": "http://shirong.test",
    }
    return Settings(**(values | overrides))


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


WIDTH, HEIGHT = 400, 300


def street_png(seed: int) -> bytes:
    """A small synthetic street scene; ``seed`` makes each frame's bytes (and SHA-256) unique."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (150, 150, 140))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 200, WIDTH, HEIGHT), fill=(90, 90, 95))
    draw.rectangle((60 + seed, 120, 140 + seed, 210), fill=(30, 30, 30))
    draw.rectangle((250, 60, 330, 150), fill=(200, 40 + seed, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def evidence_record(
    store: BlobStore,
    n: int,
    classes: tuple[str, ...] = ("garbage_bag",),
    clause_id: str = "3a",
    region: tuple[float, float, float, float] = (60.0, 120.0, 140.0, 210.0),
    boxes: Sequence[tuple[float, float, float, float]] = (),
    **fields: Any,
) -> IncidentRecord:
    """A rules-engine record whose best original frame is a real image in the evidence store;
    ``boxes`` are the objects' own boxes on it, one per class (none: a record from before)."""
    image = street_png(n)
    sha = store.files.put(image, "png")
    record = make_record(
        clause_id=clause_id,
        record_id=f"00000000-0000-4000-8000-{n:012d}",
        classes=classes,
        **fields,
    )
    data = record.model_dump(mode="json")
    data["frame_size"] = [WIDTH, HEIGHT]
    for frame in ("opened", "best"):
        data["evidence"][frame]["original"] = {
            "sha256": sha,
            "path": store.files.relpath(sha),
            "media_type": "image/png",
            "bytes": len(image),
        }
        data["evidence"][frame]["region_xyxy"] = list(region)
    if boxes:
        data["evidence"]["best"]["boxes"] = [
            {"track_key": i + 1, "class_name": c, "confidence": 0.8, "xyxy": list(b)}
            for i, (c, b) in enumerate(zip(classes, boxes, strict=True))
        ]
    return IncidentRecord.model_validate(data)


def review(api: Api, incident_id: int, **body: Any) -> Any:
    return api.ok("POST", f"/incidents/{incident_id}/reviews", json=body)


# A shop front with potted plants on the pavement: the COCO stand-in finds them (3a cue).
PLANTS = SHARED / "data" / "facades" / "images" / "img_101.jpg"


def post_photos(api: Api, *photos: bytes) -> Any:
    files = [("file", (f"p{i}.jpg", data, "image/jpeg")) for i, data in enumerate(photos)]
    return api.client.post("/ingest/photos", files=files, headers=api.admin.headers)


def wait_for_job(api: Api, job_id: int) -> Any:
    """The job once it has ended, whatever the outcome."""
    last: dict[str, Any] = {}

    def ended() -> Any:
        last.update(job=api.ok("GET", f"/jobs/{job_id}"))
        return None if last["job"]["status"] in ("queued", "running") else last["job"]

    return wait_until(ended, lambda: f"job {job_id} to finish; last {last['job']}", poll_s=0.1)


def post_video(
    api: Api, path: Path, name: str | None = None, gps: Path | None = None, status: int = 202
) -> Any:
    files = [("file", (name or path.name, path.read_bytes(), "video/mp4"))]
    if gps is not None:
        files.append(("gps", (gps.name, gps.read_bytes(), "application/gpx+xml")))
    response = api.client.post("/ingest/videos", files=files, headers=api.admin.headers)
    assert response.status_code == status, response.text
    return response.json()


def write_video(path: Path, image: np.ndarray, frames: int, fps: float = 8.0) -> Path:
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for _ in range(frames):
        writer.write(image)
    writer.release()
    return path


GPX = """<?xml version="1.0"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="35.9500" lon="120.1800"><time>2026-05-04T02:00:00Z</time></trkpt>
<trkpt lat="35.9501" lon="120.1801"><time>2026-05-04T02:00:10Z</time></trkpt>
</trkseg></trk></gpx>
"""


SECONDS, FPS, SAMPLED = 10, 8, 4.0


needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="needs ffmpeg (scripts/setup.sh)"
)


def dashcam_mp4(path: Path, *, faststart: bool) -> Path:
    """SECONDS of the plants photo at FPS, a key frame each second (bytes spread evenly)."""
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-loop", "1", "-i", str(PLANTS)]
    command += ["-t", str(SECONDS), "-r", str(FPS), "-g", str(FPS), "-vf", "scale=640:-2"]
    command += ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    command += ["-movflags", "+faststart"] if faststart else []
    subprocess.run([*command, str(path)], check=True, timeout=120)
    return path


def cut(video: Path, share: float) -> Path:
    """The first ``share`` of the file's bytes, as an interrupted copy leaves it."""
    data = video.read_bytes()
    target = video.with_name(f"{video.stem}-{int(share * 100)}{video.suffix}")
    target.write_bytes(data[: int(len(data) * share)])
    return target


@contextmanager
def counted(api: Api) -> Iterator[dict[str, int]]:
    """SQL statements the service's engine runs inside the block."""
    engine: Engine = api.services.sessions.kw["bind"]
    counts = {"statements": 0}

    def count(*_: Any) -> None:
        counts["statements"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", count)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but holds almost no data (a bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def validation_error_schema(api: Api, method: str, path: str) -> dict[str, Any]:
    """The operation's published 422 body schema, or ``HTTPValidationError`` where it names none,
    with the components it refers to."""
    spec = api.client.get("/openapi.json").json()
    declared = spec["paths"][path][method.lower()]["responses"].get("422", {})
    body = declared.get("content", {}).get("application/json", {}).get("schema")
    ref = body or {"$ref": "#/components/schemas/HTTPValidationError"}
    return {**ref, "components": spec["components"]}


def assert_published_422(api: Api, response: httpx.Response, method: str, path: str) -> str:
    """The response is a 422 that the app's own OpenAPI schema accepts; its messages, joined."""
    assert response.status_code == 422, response.text
    body = response.json()
    jsonschema.validate(body, validation_error_schema(api, method, path))
    assert isinstance(body["detail"], list) and body["detail"], body
    return "; ".join(item["msg"] for item in body["detail"])


class Receiver:
    """A webhook endpoint: records each POST and answers from a script of (status, body).

    Once the script is used up it answers ``default``; ``delay_s`` holds each answer back so that
    concurrent delivery rounds overlap.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hook"
        self.requests: list[tuple[dict[str, str], Any]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.default: tuple[int, dict[str, Any]] = (200, {})
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                with receiver._lock:
                    receiver.requests.append(
                        (dict(self.headers), json.loads(self.rfile.read(length)))
                    )
                    status, body = receiver.answers.pop(0) if receiver.answers else receiver.default
                time.sleep(receiver.delay_s)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        serve = partial(self._server.serve_forever, poll_interval=0.02)  # quick shutdown
        threading.Thread(target=serve, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


SECRET = "s3cr3t-pw"


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def camera_body(code: str = "cam-test-01", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": "长江西路口",
        "stream_url": f"rtsp://admin:{SECRET}@127.0.0.1:{closed_port()}/live?token=abc",
        "lat": 35.95,
        "lon": 120.18,
        "road": "长江西路",
        "enabled": False,
        "config": {
            "zones": [{"id": "walk", "type": "pavement", "polygon": [[0, 0], [640, 0], [640, 480]]}]
        },
    }
    return body | overrides


WEST = [[36.00, 120.00], [36.00, 120.10], [36.10, 120.10], [36.10, 120.00]]


NIGHT = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai


class World:
    """Two area squads, one specialised squad, an officer in each, a dispatcher and a photo."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.west = api.squad("west", areas=[{"name": "西区", "polygon": WEST}], cameras=["cam-w"])
        self.east = api.squad("east", roads=[{"road": "香江路", "model_road": True}])
        self.ktv = api.squad("ktv", kind="specialised", business_types=["ktv"])
        self.west_officer = api.actor(UserRole.SQUAD_OFFICER, self.west)
        self.east_officer = api.actor(UserRole.SQUAD_OFFICER, self.east)
        self.ktv_officer = api.actor(UserRole.SQUAD_OFFICER, self.ktv)
        self.dispatcher = api.actor(UserRole.DISPATCHER)
        response = upload(api, png_bytes(), self.west_officer)
        assert response.status_code == 201, response.text
        self.photo = response.json()["sha256"]

    def ticket(self, **fields: Any) -> dict[str, Any]:
        body = {
            "clause": "3a",
            "description": "门前堆放纸箱",
            "camera_id": "cam-w",
            "observed_at": NIGHT.isoformat(),
            "complaint": False,
            **fields,
        }
        return dict(self.api.ok("POST", "/tickets", self.dispatcher, json=body))

    def act(self, ticket_id: int, action: str, actor: Actor | None = None, **body: Any) -> Any:
        return self.api.client.post(
            f"/tickets/{ticket_id}/{action}",
            headers=(actor or self.api.admin).headers,
            json=body,
        )

    def body_for(self, action: str) -> dict[str, Any]:
        """A valid body for each action."""
        return {
            "rectify": {"after_photo": self.photo},
            "escalate": {"helping_squad_id": self.ktv},
            "reject": {"note": "不属于本中队"},
            "cancel": {"note": "重复投诉"},
            "reopen": {"note": "复查仍有堆放"},
        }.get(action, {})

    def drive(self, ticket_id: int, path: list[str]) -> None:
        for action in path:
            response = self.act(ticket_id, action, **self.body_for(action))
            assert response.status_code == 200, response.text


class Tables(HTMLParser):
    """Rows of the page's table as text cells, by section; the page's images and links."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self.section = ""
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("thead", "tbody", "tfoot"):
            self.section = tag
        elif tag == "tr":
            self.sections.setdefault(self.section, []).append([])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        elif tag == "a":
            self.links.append(dict(attrs)["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.sections[self.section][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)
