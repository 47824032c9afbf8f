"""Request bodies are capped while they are read, on every route; identical videos share a job.

Through a real uvicorn on loopback and httpx, as an attacker sends them: a body with no
Content-Length (chunked) must stop at its route's cap with nothing left behind — no file under the
evidence root, none in the temp folder, no descriptor of a deleted spool file still open, no row —
and a declared length over the cap is refused before the body is read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from serving.api.deps import Services
from serving.app import create_app
from serving.db.models import Blob, Incident, Job, UserRole
from serving.schemas.auth import UserCreate
from serving.services.auth import issue_token
from serving.services.jobs import GPS_MAX_BYTES
from serving.services.users import create_user
from tests.conftest import wait_until
from tests.serving.helpers import (
    PASSWORD,
    make_record,
    make_settings,
    png_bytes,
    stored_files,
    uvicorn_thread,
)

KIB, MIB = 1024, 1024 * 1024
SLACK = 64 * KIB  # serving.api.limits.MULTIPART_SLACK, restated: the test pins the figure
LIMITS = {
    "upload_max_bytes": 64 * KIB,
    "photo_batch_max_bytes": 256 * KIB,
    "video_max_bytes": 1 * MIB,
    "request_max_bytes": 64 * KIB,
}
BOUNDARY = "shirong-test-boundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Live:
    url: str
    services: Services
    headers: dict[str, str]  # an admin's token

    def rows(self, model: Any) -> int:
        with self.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


@contextmanager
def serve(settings: Any) -> Iterator[Live]:
    """The app under uvicorn on a free loopback port, with an admin token."""
    app = create_app(settings)
    with uvicorn_thread(app) as port:
        services: Services = app.state.services
        with services.sessions() as session:
            data = UserCreate(username="admin1", password=PASSWORD, role=UserRole.ADMIN)
            token = issue_token(session, settings, create_user(session, services.passwords, data))
            session.commit()
        yield Live(f"http://127.0.0.1:{port}", services, {"Authorization": f"Bearer {token.token}"})


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process's temp folder (where multipart files spool), private so it can be audited."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def live(tmp_path: Path, sqlite_template: Path, private_tmp: Path) -> Iterator[Live]:
    """Small caps; SQLite (the caps sit in front of the database, whichever it is)."""
    database = tmp_path / "shirong.db"
    shutil.copyfile(sqlite_template, database)
    with serve(make_settings(f"sqlite:///{database}", tmp_path, **LIMITS)) as service:
        yield service


def _file_part(field: str, filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()


# path, body prefix, body suffix, headers, and the cap the service must apply
ROUTES = {
    "evidence": (
        "/evidence",
        _file_part("file", "p.png") + png_bytes(),
        f"\r\n--{BOUNDARY}--\r\n".encode(),
        MULTIPART,
        LIMITS["upload_max_bytes"] + SLACK,
    ),
    "photos": (
        "/ingest/photos",
        _file_part("file", "p.png") + png_bytes(),
        f"\r\n--{BOUNDARY}--\r\n".encode(),
        MULTIPART,
        LIMITS["photo_batch_max_bytes"] + SLACK,
    ),
    "videos": (
        "/ingest/videos",
        _file_part("file", "clip.mp4"),
        f"\r\n--{BOUNDARY}--\r\n".encode(),
        MULTIPART,
        LIMITS["video_max_bytes"] + GPS_MAX_BYTES + SLACK,
    ),
    "incidents-json": ("/incidents", b'{"id": "', b'"}', JSON, LIMITS["request_max_bytes"]),
}


class Body:
    """A request body of ``size`` bytes produced on demand; counts what the client sent."""

    def __init__(self, prefix: bytes, size: int, suffix: bytes) -> None:
        self.prefix, self.suffix = prefix, suffix
        self.filler = size - len(prefix) - len(suffix)
        self.size = size
        self.pulled = 0

    def __iter__(self) -> Iterator[bytes]:
        yield self._count(self.prefix)
        block = b"a" * (256 * KIB)
        left = self.filler
        while left > 0:
            yield self._count(block[: min(left, len(block))])
            left -= len(block)
        yield self._count(self.suffix)

    def _count(self, data: bytes) -> bytes:
        self.pulled += len(data)
        return data


def _written() -> int:
    """Bytes this process (server threads included) has passed to write() so far."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError("/proc/self/io has no wchar line")


def _open_under(folder: Path) -> list[str]:
    """Files under ``folder`` this process holds open (a deleted spool file still holds disk)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            held.append(target)
    return held


def _post(live: Live, path: str, body: Body, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        live.url + path, content=iter(body), headers={**live.headers, **headers}, timeout=120
    )


def _assert_refused(response: httpx.Response, path: str, cap: int) -> None:
    assert response.status_code == 413, response.text[:300]
    detail = response.json()["detail"]
    assert detail.startswith(f"request body is over {cap} bytes, the limit for {path}"), detail
    assert response.headers["connection"] == "close"  # the rest of the body is not read


def _assert_nothing_left(live: Live, private_tmp: Path) -> None:
    root = live.services.settings.evidence_root
    assert stored_files(root) == []
    assert list(private_tmp.iterdir()) == [] and _open_under(private_tmp) == []
    assert (live.rows(Blob), live.rows(Job), live.rows(Incident)) == (0, 0, 0)


@pytest.mark.parametrize("route", ROUTES)
def test_a_chunked_body_over_the_cap_is_refused_while_read_and_leaves_nothing(
    live: Live, private_tmp: Path, route: str
) -> None:
    path, prefix, suffix, headers, cap = ROUTES[route]
    body = Body(prefix, 2 * cap + 8 * MIB, suffix)  # no Content-Length: sent chunked
    before = _written()
    response = _post(live, path, body, headers)
    written = _written() - before
    assert written < cap + 4 * MIB, f"{written} bytes written for a {body.size}-byte body"
    _assert_refused(response, path, cap)
    _assert_nothing_left(live, private_tmp)


@pytest.mark.parametrize("route", ROUTES)
def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read(
    live: Live, private_tmp: Path, route: str
) -> None:
    path, prefix, suffix, headers, cap = ROUTES[route]
    body = Body(prefix, cap + 64 * MIB, suffix)
    before = _written()
    response = _post(live, path, body, {**headers, "Content-Length": str(body.size)})
    written = _written() - before
    assert written < 1 * MIB, f"{written} bytes written for a {body.size}-byte body"
    _assert_refused(response, path, cap)
    # What the client got into the sockets' buffers before the server hung up, not the body.
    assert body.pulled < 32 * MIB, f"the client sent {body.pulled} of {body.size} bytes"
    _assert_nothing_left(live, private_tmp)


def test_a_photo_batch_over_its_total_is_refused_though_each_photo_is_within_its_limit(
    live: Live, private_tmp: Path
) -> None:
    photo = b"\x89PNG\r\n\x1a\n" + b"\0" * (LIMITS["upload_max_bytes"] - 8)
    files = [("file", (f"p{i}.png", photo, "image/png")) for i in range(8)]  # 512 KiB in all
    response = httpx.post(live.url + "/ingest/photos", files=files, headers=live.headers)
    _assert_refused(response, "/ingest/photos", LIMITS["photo_batch_max_bytes"] + SLACK)
    _assert_nothing_left(live, private_tmp)


def test_a_video_over_its_limit_within_the_body_cap_leaves_no_temp_file(
    live: Live, private_tmp: Path
) -> None:
    video = b"\0" * (LIMITS["video_max_bytes"] + KIB)  # refused by store_upload as it copies
    files = [("file", ("clip.mp4", video, "video/mp4"))]
    response = httpx.post(live.url + "/ingest/videos", files=files, headers=live.headers)
    assert response.status_code == 413, response.text[:300]
    assert f"over {LIMITS['video_max_bytes']} bytes" in response.json()["detail"]
    _assert_nothing_left(live, private_tmp)  # no .upload-* under evidence/videos


def test_bodies_under_the_caps_are_served_chunked(live: Live) -> None:
    photo = _file_part("file", "p.png") + png_bytes(32, 24) + f"\r\n--{BOUNDARY}--\r\n".encode()
    stored = _post(live, "/evidence", Body(photo, len(photo), b""), MULTIPART)
    assert stored.status_code == 201, stored.text[:300]
    record = make_record().to_json().encode()
    created = _post(live, "/incidents", Body(record, len(record), b""), JSON)
    assert created.status_code == 201, created.text[:300]


@pytest.fixture
def live_db(database_url: str, tmp_path: Path) -> Iterator[Live]:
    """The service with default limits on each database backend."""
    with serve(make_settings(database_url, tmp_path)) as service:
        yield service


def _video(live: Live, data: bytes, gps: bytes | None = None) -> httpx.Response:
    files = [("file", ("clip.mp4", data, "video/mp4"))]
    if gps is not None:
        files.append(("gps", ("track.gpx", gps, "application/gpx+xml")))
    return httpx.post(live.url + "/ingest/videos", files=files, headers=live.headers, timeout=60)


def _wait_for(live: Live, job_id: int, status: str) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        last.update(httpx.get(f"{live.url}/jobs/{job_id}", headers=live.headers).json())
        return dict(last) if last["status"] == status else None

    return wait_until(reached, lambda: f"job {job_id} to become {status}: {last}", poll_s=0.1)


NOISE = np.random.default_rng(14).bytes(40_000)  # not a video: its job fails at once


def test_identical_videos_uploaded_at_once_give_one_job(live_db: Live) -> None:
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: _video(live_db, NOISE), range(10)))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 202} and 202 in codes, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert live_db.rows(Job) == 1
    videos = live_db.services.settings.evidence_root / "videos"
    assert [p.name for p in videos.iterdir()] == [f"{hashlib.sha256(NOISE).hexdigest()}.mp4"]


def test_a_failed_video_job_is_queued_again_by_the_same_upload(live_db: Live) -> None:
    first = _video(live_db, NOISE)
    assert first.status_code == 202, first.text
    failed = _wait_for(live_db, first.json()["id"], "failed")
    again = _video(live_db, NOISE)
    assert again.status_code == 202, again.text
    assert (again.json()["id"], again.json()["status"]) == (failed["id"], "queued")
    assert again.json()["error"] is None and again.json()["finished_at"] is None
    assert _wait_for(live_db, failed["id"], "failed")["error"] == failed["error"]
    assert live_db.rows(Job) == 1


def test_the_same_video_with_another_track_is_another_job(live_db: Live) -> None:
    gpx = b'<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"/>'
    plain, tracked = _video(live_db, NOISE), _video(live_db, NOISE, gpx)
    assert (plain.status_code, tracked.status_code) == (202, 202)
    assert plain.json()["id"] != tracked.json()["id"]
    assert _video(live_db, NOISE, gpx).json()["id"] == tracked.json()["id"]
    assert _video(live_db, NOISE).json()["id"] == plain.json()["id"]
    assert live_db.rows(Job) == 2
