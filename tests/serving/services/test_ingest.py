"""Photo and dashcam-video ingest through the real detector and rules, and video jobs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image

from serving.app import create_app
from tests.conftest import COCO_INT8, wait_until
from tests.serving.helpers import (
    GPX,
    PLANTS,
    Api,
    error_message,
    make_settings,
    png_bytes,
    post_photos,
    post_video,
    wait_for_job,
    write_video,
)

GPS = ExifTags.GPS
QINGDAO = {
    GPS.GPSLatitudeRef: "N",
    GPS.GPSLatitude: (36.0, 4.0, 1.56),  # 36.0671 N
    GPS.GPSLongitudeRef: "E",
    GPS.GPSLongitude: (120.0, 22.0, 57.36),  # 120.3826 E
}


@pytest.fixture
def ingest(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The service with the COCO stand-in (whatever model is released as the default)."""
    settings = make_settings(database_url, tmp_path, model_path=COCO_INT8, video_fps=4.0)
    with TestClient(create_app(settings)) as client:
        yield Api(client)


def with_gps(path: Path) -> bytes:
    buffer = io.BytesIO()
    with Image.open(path) as image:
        exif = Image.Exif()
        exif[ExifTags.IFD.GPSInfo] = QINGDAO
        image.save(buffer, format="JPEG", exif=exif, quality=95)
    return buffer.getvalue()


@pytest.mark.shared_data
def test_a_photo_becomes_incidents_and_the_same_bytes_the_same_ones(ingest: Api) -> None:
    photo = with_gps(PLANTS)
    first = post_photos(ingest, photo)
    assert first.status_code == 200, first.text
    (result,) = first.json()
    assert result["created"] is True
    assert result["location"]["lat"] == pytest.approx(36.0671, abs=1e-4)
    assert result["incidents"], "the potted plants on the pavement should be a 3a incident"
    incident = result["incidents"][0]
    assert incident["clause"] == "3a" and incident["status"] == "pending"
    assert incident["lat"] == pytest.approx(36.0671, abs=1e-4)
    evidence = ingest.client.get(
        f"/evidence/{incident['evidence'][0]}", headers=ingest.admin.headers
    )
    assert evidence.status_code == 200
    (again,) = post_photos(ingest, photo).json()
    assert again["created"] is False
    assert [i["id"] for i in again["incidents"]] == [i["id"] for i in result["incidents"]]
    assert len(ingest.ok("GET", "/incidents")) == len(result["incidents"])


@pytest.mark.shared_data
def test_photos_without_disorder_give_no_incident(ingest: Api) -> None:
    first, second = post_photos(ingest, png_bytes(64, 48), png_bytes(32, 32)).json()
    assert (first["photo"]["width"], second["photo"]["width"]) == (64, 32)
    assert first["incidents"] == second["incidents"] == [] and first["location"] is None


@pytest.fixture
def small_limits(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path, video_max_bytes=2048, upload_max_bytes=2048)
    with TestClient(create_app(settings)) as client:
        yield Api(client)


def test_too_large_uploads_are_refused(small_limits: Api) -> None:
    api = small_limits
    headers = api.admin.headers
    video = api.client.post(
        "/ingest/videos", files=[("file", ("a.mp4", b"x" * 4096))], headers=headers
    )
    assert video.status_code == 413 and "over 2048 bytes" in video.json()["detail"]
    photo = post_photos(api, png_bytes(200, 200, (1, 2, 3)) + b"\0" * 4096)
    assert photo.status_code == 413 and "limit is 2048 bytes" in photo.json()["detail"]


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"just some text", 415, "only JPEG, PNG and WebP"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 422, "cannot be decoded"),
    ],
)
def test_bad_photos_are_refused_before_any_analysis(
    api: Api, data: bytes, status: int, message: str
) -> None:
    response = post_photos(api, data)
    assert response.status_code == status
    assert message in error_message(response)


def test_a_photo_needs_a_file(api: Api) -> None:
    response = api.client.post(
        "/ingest/photos", data={"note": "x"}, files=[], headers=api.admin.headers
    )
    assert response.status_code == 422
    assert "'file'" in error_message(response)


def test_without_a_model_photo_ingest_is_unavailable(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, model_path=tmp_path / "none.onnx")
    with TestClient(create_app(settings)) as client:
        response = post_photos(Api(client), png_bytes())
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "none.onnx" in detail and "/" not in detail, "the model's server path is not shown"


def test_corrupt_videos_fail_their_jobs_and_the_service_carries_on(
    api: Api, tmp_path: Path
) -> None:
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).bytes(50_000))
    real = write_video(tmp_path / "real.mp4", np.full((96, 128, 3), 90, np.uint8), frames=40)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    for video in (noise, truncated):
        queued = post_video(api, video)
        assert queued["status"] == "queued" and queued["video_name"] == video.name
        job = wait_for_job(api, queued["id"])
        assert job["status"] == "failed", job
        error = job["error"]
        assert error.startswith(
            (f"cannot open video {video.name}:", f"cannot read video {video.name}:")
        )
        # No server path: not the evidence root, not the temp folder, no absolute path at all.
        root = str(api.services.settings.evidence_root)
        assert root not in error and str(tmp_path) not in error and "/" not in error, error
    assert api.client.get("/health").status_code == 200


@pytest.mark.parametrize("name", ["clip.exe", "clip", "track.mp4.sh"])
def test_videos_need_a_video_extension(api: Api, name: str) -> None:
    response = api.client.post(
        "/ingest/videos", files=[("file", (name, b"x" * 10))], headers=api.admin.headers
    )
    assert response.status_code == 415
    assert "unsupported extension" in response.json()["detail"]


def test_unknown_job_is_404(api: Api) -> None:
    response = api.client.get("/jobs/12345", headers=api.admin.headers)
    assert response.status_code == 404 and "job 12345" in response.json()["detail"]


@pytest.mark.shared_data
def test_a_dashcam_video_with_gps_becomes_located_incidents(ingest: Api, tmp_path: Path) -> None:
    image = cv2.imread(str(PLANTS))
    video = write_video(tmp_path / "dashcam.mp4", image, frames=24)  # 3 s at 8 fps
    track = tmp_path / "track.gpx"
    track.write_text(GPX)
    job = wait_for_job(ingest, post_video(ingest, video, gps=track)["id"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and job["frames"] >= 10 and job["incidents"] >= 1
    incidents = ingest.ok("GET", "/incidents")
    assert {i["clause"] for i in incidents} >= {"3a"}
    assert all(i["lat"] == pytest.approx(35.95, abs=1e-3) for i in incidents)
    again = post_video(ingest, video, gps=track, status=200)  # same bytes: that job, not a new one
    assert again == job
    assert len(ingest.ok("GET", "/incidents")) == len(incidents)


@pytest.mark.slow
@pytest.mark.shared_data
def test_a_job_interrupted_by_shutdown_is_finished_after_the_restart(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, model_path=COCO_INT8, video_fps=4.0)
    video = write_video(tmp_path / "long.mp4", cv2.imread(str(PLANTS)), frames=240)  # 30 s
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        job_id = post_video(api, video)["id"]
        # Progress is written each second.
        wait_until(
            lambda: api.ok("GET", f"/jobs/{job_id}")["frames"], "the job to start", poll_s=0.1
        )
    with TestClient(create_app(settings)) as client:
        api.client = client  # same database: the token still works
        assert api.ok("GET", f"/jobs/{job_id}")["status"] in ("queued", "running")
        job = wait_for_job(api, job_id)
    assert job["status"] == "succeeded" and job["frames"] >= 100
