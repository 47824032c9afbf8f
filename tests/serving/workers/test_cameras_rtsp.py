"""A camera on a real loopback RTSP stream: online, analysing, offline when the publisher stops,
online again when it comes back (rtsp-server-perl + ffmpeg, see tests/detection/capture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tests.conftest import COCO_INT8
from tests.detection.capture.capture_helpers import FFMPEG, RTSP_SERVER, RtspRig, encode_pattern
from tests.serving.helpers import Api, make_settings
from tests.serving.helpers import wait_for_camera as wait_for

pytestmark = [pytest.mark.slow, pytest.mark.rtsp, pytest.mark.shared_data]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[RtspRig]:
    """A 320x240 camera with a 160x120 detection sub-stream at /sub (10 fps, 1 s GOP)."""
    if not FFMPEG or not RTSP_SERVER:
        pytest.skip("RTSP tests need ffmpeg and rtsp-server-perl (scripts/setup.sh installs both)")
    main = encode_pattern(tmp_path / "street.mp4", size="320x240", seconds=4)
    sub = encode_pattern(tmp_path / "street-sub.mp4", size="160x120", seconds=4)
    with RtspRig(tmp_path, main, {"sub": sub}).running() as rig:
        yield rig


def camera_app(sqlite_template: Path, tmp_path: Path, **overrides: Any) -> TestClient:
    database = tmp_path / "shirong.db"
    database.write_bytes(sqlite_template.read_bytes())
    settings = make_settings(
        f"sqlite:///{database}", tmp_path, model_path=COCO_INT8, camera_workers=True, **overrides
    )
    return TestClient(create_app(settings))


def test_camera_follows_its_stream_down_and_up(
    rig: RtspRig, sqlite_template: Path, tmp_path: Path
) -> None:
    with camera_app(sqlite_template, tmp_path) as client:
        api = Api(client)
        body = {
            "code": "cam-rtsp-01",
            "stream_url": rig.url("viewer:pw@"),
            "rtsp_transport": "udp",
            "config": {"default_zone": "pavement"},
        }
        camera_id = api.ok("POST", "/cameras", json=body)["id"]
        online = wait_for(api, camera_id, lambda s: s["state"] == "online", "online")
        assert online["decode"] == "keyframes"  # 1 frame/s on a 1 s GOP (the defaults)
        assert (online["analysing"], online["warning"]) == ("main", None)
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


def test_a_camera_analyses_its_sub_stream_and_falls_back_to_the_main_one(
    rig: RtspRig, sqlite_template: Path, tmp_path: Path
) -> None:
    # The fallback after 5 s of silence: a sub-stream starting on a loaded machine may take
    # longer than that to give its first frame, and then comes back (the wait below).
    overrides = {"camera_fps": 2.0, "camera_decode": "keyframes", "camera_fallback_s": 5.0}
    with camera_app(sqlite_template, tmp_path, **overrides) as client:
        api = Api(client)
        body = {
            "code": "cam-rtsp-02",
            "stream_url": rig.url("viewer:pw@"),
            "detect_url": rig.url("viewer:pw@", path="sub"),
            "rtsp_transport": "udp",
            "config": {"default_zone": "pavement"},
        }
        camera = api.ok("POST", "/cameras", json=body)
        assert camera["detect_url"] == rig.url("viewer:***@", path="sub")
        camera_id = camera["id"]
        # Keyframes asked for, but a 1 s GOP cannot give 2 frames/s: the status says so.
        status = wait_for(
            api,
            camera_id,
            lambda s: s["state"] == "online" and s["analysing"] == "detect" and s["warning"],
            "the sub-stream's GOP warning",
        )
        assert (status["analysing"], status["decode"]) == ("detect", "keyframes")
        assert status["warning"] == (
            "keyframe interval 1 s is longer than the sampling interval 0.5 s: keyframe-only "
            "decoding analyses at most 1 frames/s"
        )
        wait_for(api, camera_id, lambda s: s["frames_analysed"] > 2, "frames to be analysed")
        snapshot = client.get(f"/cameras/{camera_id}/snapshot", headers=api.admin.headers)
        image = cv2.imdecode(np.frombuffer(snapshot.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[:2] == (240, 320), "the snapshot is the main stream's frame"

        rig.stop_other("sub")
        fallback = wait_for(api, camera_id, lambda s: s["analysing"] == "main", "the fallback")
        assert fallback["state"] == "online"
        assert "analysing the main stream" in fallback["warning"]
        assert "pw" not in fallback["warning"]

        rig.start_other("sub")
        wait_for(api, camera_id, lambda s: s["analysing"] == "detect", "the sub-stream again")
        api.ok("POST", f"/cameras/{camera_id}/stop")
