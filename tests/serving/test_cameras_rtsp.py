"""A camera on a real loopback RTSP stream: online, analysing, offline when the publisher stops,
online again when it comes back (rtsp-server-perl + ffmpeg, see tests/detection/capture)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tests.conftest import COCO_INT8
from tests.detection.capture.capture_helpers import FFMPEG, RTSP_SERVER, RtspRig
from tests.serving.conftest import Api, make_settings, wait_for_camera

# Stream start-up over UDP takes seconds on a loaded machine.
wait_for = partial(wait_for_camera, timeout_s=90)

pytestmark = [pytest.mark.slow, pytest.mark.rtsp, pytest.mark.shared_data]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[RtspRig]:
    if not FFMPEG or not RTSP_SERVER:
        pytest.skip("RTSP tests need ffmpeg and rtsp-server-perl (scripts/setup.sh installs both)")
    video = tmp_path / "street.mp4"
    subprocess.run(
        [
            *(FFMPEG, "-nostdin", "-loglevel", "error", "-f", "lavfi"),
            *("-i", "testsrc=size=320x240:rate=10", "-t", "4", "-c:v", "libx264"),
            *("-preset", "ultrafast", "-tune", "zerolatency", "-g", "10", "-pix_fmt", "yuv420p"),
            str(video),
        ],
        check=True,
        timeout=60,
    )
    with RtspRig(tmp_path, video).running() as rig:
        yield rig


def test_camera_follows_its_stream_down_and_up(
    rig: RtspRig, sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "shirong.db"
    database.write_bytes(sqlite_template.read_bytes())
    settings = make_settings(
        f"sqlite:///{database}", tmp_path, model_path=COCO_INT8, camera_workers=True
    )
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        body = {
            "code": "cam-rtsp-01",
            "stream_url": rig.url("viewer:pw@"),
            "rtsp_transport": "udp",
            "config": {"default_zone": "pavement"},
        }
        camera_id = api.ok("POST", "/cameras", json=body)["id"]
        online = wait_for(api, camera_id, lambda s: s["state"] == "online", "online")
        grown = wait_for(
            api,
            camera_id,
            lambda s: s["frames_analysed"] > online["frames_analysed"] + 2,
            "frames to be analysed",
        )
        assert grown["last_frame_time"] is not None
        snapshot = client.get(f"/cameras/{camera_id}/snapshot", headers=api.admin.headers)
        assert snapshot.status_code == 200
        assert snapshot.headers["content-type"] == "image/jpeg"
        assert snapshot.content.startswith(b"\xff\xd8")

        rig.stop_publisher()
        offline = wait_for(api, camera_id, lambda s: s["state"] == "offline", "offline")
        assert offline["last_error"] and "pw" not in offline["last_error"]

        rig.start_publisher()
        back = wait_for(
            api, camera_id, lambda s: s["state"] == "online" and s["reconnects"] >= 1, "online"
        )
        assert back["frames_analysed"] >= grown["frames_analysed"]
        assert back["restarts"] == 0
        assert back["last_error"] is None, "a camera that recovered shows no old error"
        api.ok("POST", f"/cameras/{camera_id}/stop")
