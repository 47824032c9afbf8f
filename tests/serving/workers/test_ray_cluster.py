"""Cameras as Ray actors on a real two-node cluster on loopback: 4 RTSP cameras spread over both
nodes; the second node is killed; its cameras come back on the head, incidents keep flowing and
none is duplicated (recurrence folds what a restarted actor sees again into the open incident).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from serving.app import create_app
from serving.db.models import CameraRuntime, Incident, Sighting
from serving.db.session import make_engine, make_session_factory
from serving.demo import build_clip, demo_config
from tests.conftest import COCO_INT8, SHARED, wait_until
from tests.detection.capture.capture_helpers import FFMPEG, RTSP_SERVER, RtspRig
from tests.serving.helpers import (
    PLANTS,
    Api,
    emptied,
    make_settings,
    post_photos,
    post_video,
    wait_for_camera,
    wait_for_job,
    write_video,
)
from tests.serving.workers.ray_rig import ENV, RAY, RayRig, node_ids

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.rtsp, pytest.mark.ray, pytest.mark.shared_data]

BAGS = SHARED / "data" / "trashbags" / "images" / "-2023-11-30-170152_png.jpg"  # 7 bags, v2
CAMERAS = 4


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[RayRig]:
    if not RAY:
        pytest.skip("the ray command is missing (pip install 'shirong[ray]')")
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    rig = RayRig()
    try:
        rig.start()
        yield rig
    finally:
        if ray.is_initialized():
            ray.shutdown()
        rig.stop()


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[RtspRig]:
    if not FFMPEG or not RTSP_SERVER:
        pytest.skip("RTSP tests need ffmpeg and rtsp-server-perl (scripts/setup.sh installs both)")
    clip = build_clip([BAGS], tmp_path / "bags.mp4", seconds_each=6.0, fps=5)
    with RtspRig(tmp_path, clip).running() as rig:
        yield rig


def _rows(sessions: Any) -> dict[int, CameraRuntime]:
    with sessions() as session:
        return {r.camera_id: r for r in session.scalars(select(CameraRuntime))}


def _incidents(sessions: Any) -> dict[str, int]:
    """Incidents per camera code."""
    with sessions() as session:
        rows = session.execute(
            select(Incident.source_id, func.count()).group_by(Incident.source_id)
        )
        return {code: n for code, n in rows}


def _sightings(sessions: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Sighting)) or 0


def test_cameras_move_to_the_head_when_their_node_dies(
    cluster: RayRig,
    stream: RtspRig,
    postgres_database: str | None,
    tmp_path: Path,
) -> None:
    url = emptied(postgres_database)
    settings = make_settings(
        url,
        tmp_path,
        ray_address=cluster.address,
        camera_workers=True,
        camera_fps=2.0,
        camera_cpus=0.25,
        recurrence_window_hours=24,  # what folds a restarted camera's records into its incidents
    )
    sessions = make_session_factory(make_engine(url))
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
        cluster.wait_for_nodes(ray, 2)
        head, other = node_ids(ray)
        config = demo_config() | {"cooldown_s": 5}
        ids = [
            api.ok(
                "POST",
                "/cameras",
                json={
                    "code": f"cam-ray-{i}",
                    "stream_url": stream.url(),
                    "config": config,
                    "rtsp_transport": "udp",
                },
            )["id"]
            for i in range(CAMERAS)
        ]

        def all_analysing() -> dict[int, CameraRuntime] | None:
            rows = _rows(sessions)
            ok = len(rows) == CAMERAS and all(r.frames_analysed >= 4 for r in rows.values())
            return rows if ok else None

        rows = wait_until(all_analysing, "4 cameras analysing", poll_s=0.5)
        moved = [i for i, r in rows.items() if r.node.endswith(other[:12])]
        assert moved and len(moved) < CAMERAS, (
            f"cameras not spread: {[r.node for r in rows.values()]}"
        )
        wait_until(
            lambda: len(_incidents(sessions)) == CAMERAS,
            "an incident from every camera",
            poll_s=0.5,
        )
        before = _incidents(sessions)
        frames_before = {i: rows[i].frames_analysed for i in moved}

        cluster.kill("node2")
        killed_at = time.monotonic()

        def back_on_head() -> bool:
            now = _rows(sessions)
            return all(
                now[i].node.endswith(head[:12]) and now[i].frames_analysed > frames_before[i] + 2
                for i in moved
            )

        # Node loss noticed by Ray (~30 s) + actor restart + stream reopen.
        wait_until(back_on_head, "the lost node's cameras to analyse on the head", poll_s=0.5)
        recovery_s = time.monotonic() - killed_at
        print(f"\ncameras {moved} back on the head after {recovery_s:.1f} s")
        sightings = _sightings(sessions)
        wait_until(
            lambda: _sightings(sessions) > sightings,
            "sightings from the restarted cameras",
            poll_s=0.5,
        )
        after = _incidents(sessions)
        assert after == before, "a restarted camera opened incidents it had already reported"
        for camera_id in ids:
            wait_for_camera(api, camera_id, lambda s: s["state"] == "online", "online")
        restarted = [api.ok("GET", f"/cameras/{i}/status")["restarts"] for i in moved]
        assert all(n >= 1 for n in restarted), restarted


def test_jobs_and_photos_run_as_ray_tasks_and_an_unplaceable_camera_says_why(
    cluster: RayRig, postgres_database: str | None, tmp_path: Path
) -> None:
    url = emptied(postgres_database)
    settings = make_settings(
        url,
        tmp_path,
        ray_address=cluster.address,
        model_path=COCO_INT8,
        camera_workers=True,
        camera_cpus=2.0,  # more than any node has
        video_fps=4.0,
    )
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
        cluster.wait_for_nodes(ray, 2)
        photo = post_photos(api, PLANTS.read_bytes())
        assert photo.status_code == 200, photo.text
        assert photo.json()[0]["incidents"], "the potted plants should be a 3a incident"
        street = np.full((360, 640, 3), 90, np.uint8)
        job = post_video(api, write_video(tmp_path / "street.mp4", street, frames=40))
        assert wait_for_job(api, job["id"])["status"] == "succeeded"
        body = {"code": "cam-big", "stream_url": "rtsp://127.0.0.1:9/x", "config": {}}
        camera_id = api.ok("POST", "/cameras", json=body)["id"]
        status = wait_for_camera(
            api, camera_id, lambda s: "free CPU" in (s["last_error"] or ""), "a placement error"
        )
        assert status["state"] == "connecting"
        assert "waiting for a Ray node with 2 free CPU (camera_cpus)" in status["last_error"]
