"""Analysis runs in worker processes that the service supervises: a hung or leaking camera worker
is killed and restarted, a dashcam job whose worker is killed is started again and then fails
naming the cause, a dead photo worker is replaced; the API answers throughout. Real processes,
real signals (SIGSTOP is a real hang; SIGKILL a real crash)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.db.models import CameraRuntime
from serving.workers.context import STORE_MARK
from tests.conftest import COCO_INT8, wait_until
from tests.serving.helpers import (
    Api,
    camera_body,
    closed_port,
    emptied,
    make_settings,
    png_bytes,
    post_photos,
    post_video,
    wait_for_camera,
    wait_for_job,
    write_video,
)

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def _on_sqlite(template: Path, root: Path, **overrides: Any) -> Any:
    """Settings on a copy of the migrated SQLite template, with the COCO stand-in model."""
    (root / "shirong.db").write_bytes(template.read_bytes())
    return make_settings(
        f"sqlite:///{root / 'shirong.db'}", root, model_path=COCO_INT8, **overrides
    )


def _client(settings: Any) -> Iterator[Api]:
    with TestClient(create_app(settings)) as client:
        yield Api(client)


@pytest.fixture
def watched(sqlite_template: Path, tmp_path: Path) -> Iterator[Api]:
    """Cameras on, with a watchdog quick enough for a test: 20 s of silence is a hang (a new
    worker process on a loaded machine takes seconds to import and report)."""
    settings = _on_sqlite(
        sqlite_template,
        tmp_path,
        camera_workers=True,
        camera_heartbeat_s=0.3,
        camera_hang_s=20.0,
        camera_restart_s=0.1,
    )
    yield from _client(settings)


def _worker_pid(api: Api, camera_id: int) -> int | None:
    """The camera's worker process id, once that worker has begun (it writes its node then)."""
    with api.services.sessions() as session:
        row = session.get(CameraRuntime, camera_id)
        return int(row.node.split(":")[1].split("@")[0]) if row is not None and row.node else None


def _started(api: Api, **body: Any) -> tuple[int, int]:
    """A camera and its worker's process id, once the worker has begun and reports offline (its
    stream refuses connections). Offline alone is not enough: the API also shows a worker that
    has not reported yet as offline."""
    camera_id: int = api.ok("POST", "/cameras", json=camera_body(enabled=True, **body))["id"]
    pid = wait_until(lambda: _worker_pid(api, camera_id), "the camera's worker to begin")
    wait_for_camera(api, camera_id, lambda s: s["state"] == "offline", "a reporting worker")
    return camera_id, pid


def test_a_hung_camera_worker_is_killed_and_restarted(
    watched: Api, caplog: pytest.LogCaptureFixture
) -> None:
    camera_id, pid = _started(watched)
    os.kill(pid, signal.SIGSTOP)  # frozen: no frames, no heartbeats, nothing
    wait_for_camera(watched, camera_id, lambda s: s["restarts"] >= 1, "the watchdog's restart")
    assert watched.ok("GET", "/health")["status"] == "ok"  # the API answered throughout
    assert _worker_pid(watched, camera_id) != pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert "the worker is hung; restarting its worker" in caplog.text


def test_a_crashed_camera_worker_is_restarted_with_the_cause(
    watched: Api, caplog: pytest.LogCaptureFixture
) -> None:
    camera_id, pid = _started(watched)
    os.kill(pid, signal.SIGKILL)
    wait_for_camera(watched, camera_id, lambda s: s["restarts"] >= 1, "a restart")
    assert "the worker process was killed by SIGKILL; restarting its worker" in caplog.text


def test_a_leaking_camera_worker_is_restarted(sqlite_template: Path, tmp_path: Path) -> None:
    settings = _on_sqlite(
        sqlite_template,
        tmp_path,
        camera_workers=True,
        camera_heartbeat_s=0.3,
        camera_restart_s=0.1,
        camera_max_rss_mb=64,  # below what Python, OpenCV and the model take: a "leak"
    )
    for api in _client(settings):
        camera_id = api.ok("POST", "/cameras", json=camera_body(enabled=True))["id"]
        status = wait_for_camera(
            api,
            camera_id,
            lambda s: s["restarts"] >= 1 and "camera_max_rss_mb" in (s["last_error"] or ""),
            "a restart for memory",
        )
        assert "MB, over camera_max_rss_mb" in status["last_error"]


def test_a_worker_that_cannot_see_the_evidence_store_says_so(watched: Api) -> None:
    (watched.services.settings.evidence_root / STORE_MARK).unlink()
    camera_id = watched.ok("POST", "/cameras", json=camera_body(enabled=True))["id"]
    status = wait_for_camera(
        watched, camera_id, lambda s: "not visible" in (s["last_error"] or ""), "the store error"
    )
    assert "mount the service's SHIRONG_EVIDENCE_ROOT" in status["last_error"]


def _workers() -> list[psutil.Process]:
    """Spawned worker processes of this (the service's) process, but the resource tracker."""
    found = []
    for child in psutil.Process().children():
        try:
            line = " ".join(child.cmdline())
            if "spawn_main" in line and "resource_tracker" not in line:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _job_worker(killed: set[int]) -> psutil.Process:
    """The dashcam-job process now running (not one already killed)."""
    return wait_until(
        lambda: next((child for child in _workers() if child.pid not in killed), None),
        "a job worker process",
    )


def _kill(process: psutil.Process) -> None:
    """SIGKILL, leaving the reaping to the service (psutil's wait would reap it first, and
    multiprocessing would then never learn that its child ended)."""
    process.kill()

    def dead() -> bool:
        try:
            return process.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(dead, "the worker to die")


def _running(api: Api, job_id: int) -> Callable[[], bool]:
    def running() -> bool:
        job = api.ok("GET", f"/jobs/{job_id}")
        return bool(job["status"] == "running" and job["frames"] > 0)

    return running


@pytest.fixture
def jobs_api(sqlite_template: Path, tmp_path: Path) -> Iterator[Api]:
    settings = _on_sqlite(
        sqlite_template,
        tmp_path,
        video_fps=8.0,
        job_max_attempts=2,
    )
    yield from _client(settings)


def test_a_dashcam_job_whose_worker_is_killed_is_retried_then_fails_cleanly(
    jobs_api: Api, tmp_path: Path
) -> None:
    street = np.full((360, 640, 3), 90, np.uint8)
    video = write_video(tmp_path / "long.mp4", street, frames=1200, fps=8.0)  # 150 s of video
    job = post_video(jobs_api, video)
    killed: set[int] = set()
    for attempt in (1, 2):
        worker = _job_worker(killed)
        wait_until(_running(jobs_api, job["id"]), f"attempt {attempt} to analyse frames")
        _kill(worker)
        killed.add(worker.pid)
    done = wait_for_job(jobs_api, job["id"])
    assert done["status"] == "failed"
    assert "killed by SIGKILL, 2 time(s)" in done["error"]


def test_a_dashcam_job_survives_one_killed_worker(jobs_api: Api, tmp_path: Path) -> None:
    street = np.full((360, 640, 3), 90, np.uint8)
    video = write_video(tmp_path / "short.mp4", street, frames=320, fps=8.0)
    job = post_video(jobs_api, video)
    worker = _job_worker(set())
    wait_until(_running(jobs_api, job["id"]), "the first attempt to analyse frames")
    _kill(worker)
    done = wait_for_job(jobs_api, job["id"])
    assert done["status"] == "succeeded", done
    assert done["frames"] == 320


def test_a_dead_photo_worker_is_replaced(jobs_api: Api) -> None:
    first = post_photos(jobs_api, png_bytes(64, 48))
    assert first.status_code == 200, first.text
    (pool_worker,) = _workers()
    _kill(pool_worker)
    again = post_photos(jobs_api, png_bytes(32, 32))
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("database", ["postgresql"])
def test_an_unreachable_ray_address_is_shown_and_the_api_stays_up(
    database: str, postgres_database: str | None, tmp_path: Path
) -> None:
    url = emptied(postgres_database)
    closed = f"127.0.0.1:{closed_port()}"
    settings = make_settings(url, tmp_path, ray_address=closed, camera_workers=True)
    for api in _client(settings):
        camera_id = api.ok("POST", "/cameras", json=camera_body(enabled=True))["id"]
        status = api.ok("GET", f"/cameras/{camera_id}/status")
        assert status["state"] == "offline"
        assert f"cannot reach the Ray cluster at {closed}" in status["last_error"]
        photo = post_photos(api, png_bytes(64, 48))
        assert photo.status_code == 503, photo.text
        assert photo.json()["code"] == "workers_unavailable"
        assert api.ok("GET", "/health")["status"] == "ok"
