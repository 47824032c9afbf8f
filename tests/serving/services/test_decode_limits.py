"""Decoding is bounded in memory: a pixel cap sized for the model, JPEGs decoded reduced, and at
most ``decode_concurrency`` decodes at once, measured as the peak RSS of a real server process.

The server is ``uvicorn`` in its own process on loopback, so its memory is the service's alone;
its peak (``VmHWM``) is reset before each burst by writing 5 to ``/proc/<pid>/clear_refs``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from serving.app import create_app
from serving.db.models import UserRole
from serving.db.session import make_engine, make_session_factory
from serving.migrations import upgrade
from serving.schemas.auth import UserCreate
from serving.services.auth import Passwords, issue_token
from serving.services.users import create_user
from tests.conftest import REPO
from tests.serving.helpers import (
    PASSWORD,
    Api,
    _free_port,
    make_settings,
    png_bytes,
    png_header_only,
    upload,
)

MIB = 1024 * 1024
BURST = 8  # images posted at once
MAX_PIXELS = 25_000_000  # the default cap
# 2 decode slots x (a 25 MP decode: Pillow holds 4 bytes a pixel, ~95 MiB, and for an ingest its
# analysis) plus room for allocator slack. Before the fix 8 such PNGs took +560 MiB on /evidence
# and +1.2 GiB on /ingest/photos.
PNG_BURST_BOUND = 400 * MIB
# A JPEG is checked at 1/8 scale: 8 at 24 MP took +530 MiB before the fix, ~15 MiB after.
JPEG_BURST_BOUND = 64 * MIB


@dataclass(frozen=True)
class LiveServer:
    url: str
    pid: int
    headers: dict[str, str]


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``uvicorn serving.app:create_app`` with default upload limits, 2 decode slots, an admin."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc (VmHWM and clear_refs) to measure the peak RSS")
    root = tmp_path_factory.mktemp("decode")
    settings = make_settings(f"sqlite:///{root / 'shirong.db'}", root, decode_wait_s=600)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        user = create_user(
            session,
            Passwords(settings),
            UserCreate(username="admin", password=PASSWORD, role=UserRole.ADMIN),
        )
        token = issue_token(session, settings, user).token
        session.commit()
    engine.dispose()
    names = ("env", "database_url", "evidence_root", "argon2_memory_kib", "decode_wait_s")
    env = {f"SHIRONG_{name.upper()}": str(getattr(settings, name)) for name in names}
    env["SHIRONG_SECRET_KEY"] = settings.secret_key.get_secret_value()
    env["SHIRONG_DISPATCH_WORKER"] = env["SHIRONG_CAMERA_WORKERS"] = "false"
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        live = LiveServer(url, process.pid, {"Authorization": f"Bearer {token}"})
        for route in ("/evidence", "/ingest/photos"):  # imports, first decode, the model
            assert _post(live, route, png_bytes(64, 48)).is_success
        yield live
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start (exit status {process.poll()})")
        time.sleep(0.2)


def _post(server: LiveServer, route: str, data: bytes) -> httpx.Response:
    files = {"file": ("photo", data)}
    return httpx.post(f"{server.url}{route}", files=files, headers=server.headers, timeout=600)


def peak_growth(pid: int, burst: Callable[[], None]) -> int:
    """Bytes the process's peak RSS rose above its RSS before ``burst``."""
    before = _status_kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from now
    burst()
    return (_status_kib(pid, "VmHWM") - before) * 1024


def images(fmt: str, size: tuple[int, int]) -> list[bytes]:
    """BURST distinct solid images (a few KiB each, millions of pixels)."""
    out = []
    for i in range(BURST):
        buffer = io.BytesIO()
        Image.new("RGB", size, (20 + 25 * i, 90, 160)).save(buffer, format=fmt)
        out.append(buffer.getvalue())
    return out


def post_at_once(server: LiveServer, route: str, photos: list[bytes]) -> list[int]:
    with ThreadPoolExecutor(len(photos)) as pool:
        return [r.status_code for r in pool.map(lambda d: _post(server, route, d), photos)]


@pytest.mark.slow
@pytest.mark.parametrize(("route", "ok"), [("/evidence", 201), ("/ingest/photos", 200)])
def test_a_burst_of_near_limit_pngs_stays_within_the_decode_budget(
    server: LiveServer, route: str, ok: int
) -> None:
    photos = images("PNG", (5000, 5000))  # 25 MP: just inside the cap, decoded in full
    statuses: list[int] = []
    growth = peak_growth(server.pid, lambda: statuses.extend(post_at_once(server, route, photos)))
    assert statuses == [ok] * BURST
    assert growth < PNG_BURST_BOUND, f"{BURST} PNGs of 25 MP: peak RSS +{growth / MIB:.0f} MiB"


@pytest.mark.slow
def test_a_burst_of_large_jpegs_is_checked_at_reduced_scale(server: LiveServer) -> None:
    photos = images("JPEG", (6000, 4000))  # 24 MP
    statuses: list[int] = []
    burst = lambda: statuses.extend(post_at_once(server, "/evidence", photos))  # noqa: E731
    growth = peak_growth(server.pid, burst)
    assert statuses == [201] * BURST
    assert growth < JPEG_BURST_BOUND, f"{BURST} JPEGs of 24 MP: peak RSS +{growth / MIB:.0f} MiB"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (png_header_only(5001, 5000), "image is 5001x5000 = 25005000 pixels; the limit is"),
        (png_header_only(7071, 7071), "= 49999041 pixels; the limit is 25000000 pixels"),
    ],
    ids=["just over 25 MP", "the 50 MP bomb"],
)
def test_the_default_pixel_cap_refuses_past_25_megapixels(
    api: Api, data: bytes, message: str
) -> None:
    response = upload(api, data)
    assert response.status_code == 413 and message in response.json()["detail"]


@pytest.fixture
def one_slot(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path, decode_concurrency=1, decode_wait_s=0)
    with TestClient(create_app(settings)) as client:
        yield Api(client)


def test_with_every_decode_slot_taken_an_upload_gets_503(one_slot: Api) -> None:
    with one_slot.services.store.decoding():
        busy = upload(one_slot, png_bytes())
    assert (busy.status_code, busy.headers["Retry-After"]) == (503, "2")
    assert "too many images are being decoded" in busy.json()["detail"]
    assert upload(one_slot, png_bytes()).status_code == 201  # the slot was given back
