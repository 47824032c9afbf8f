"""A video job reports how much of the video it analysed; one that ends early is ``partial``.

The videos are made by the ffmpeg binary: H.264 in mp4 with the index (moov) at the start
(``+faststart``, as dashcams and phones write) or at the end, then cut with ``head -c``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.services.jobs import Coverage
from tests.conftest import COCO_INT8
from tests.serving.helpers import (
    FPS,
    SAMPLED,
    SECONDS,
    Api,
    cut,
    dashcam_mp4,
    make_settings,
    needs_ffmpeg,
    wait_for_job,
)


@pytest.fixture
def ingest(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path, model_path=COCO_INT8, video_fps=SAMPLED)
    with TestClient(create_app(settings)) as client:
        yield Api(client)


def analyse(api: Api, video: Path) -> Any:
    """Post the video and wait for its job to finish, whatever the outcome."""
    files = [("file", (video.name, video.read_bytes(), "video/mp4"))]
    response = api.client.post("/ingest/videos", files=files, headers=api.admin.headers)
    assert response.status_code == 202, response.text
    return wait_for_job(api, response.json()["id"])


@needs_ffmpeg
@pytest.mark.shared_data
@pytest.mark.slow
def test_a_whole_video_succeeds_having_analysed_its_duration(ingest: Api, tmp_path: Path) -> None:
    job = analyse(ingest, dashcam_mp4(tmp_path / "whole.mp4", faststart=True))
    assert job["status"] == "succeeded" and job["error"] is None, job
    assert job["progress"] == 1.0
    assert job["duration_s"] == pytest.approx(SECONDS)
    assert job["duration_s"] - 1 / SAMPLED - 1 / FPS <= job["analysed_s"] < job["duration_s"]
    assert job["expected_frames"] == SECONDS * SAMPLED
    assert job["frames"] == pytest.approx(job["expected_frames"], abs=1)


@needs_ffmpeg
@pytest.mark.shared_data
def test_the_first_30_percent_of_a_faststart_video_is_partial_and_keeps_its_incidents(
    ingest: Api, tmp_path: Path
) -> None:
    truncated = cut(dashcam_mp4(tmp_path / "dashcam.mp4", faststart=True), 0.3)
    job = analyse(ingest, truncated)
    assert job["status"] == "partial", job
    assert job["duration_s"] == pytest.approx(SECONDS), "the header still tells the whole length"
    assert 1.0 < job["analysed_s"] < 0.5 * SECONDS
    assert job["progress"] == pytest.approx(job["analysed_s"] / SECONDS)
    assert job["frames"] < job["expected_frames"] / 2
    assert job["error"] == (
        f"video ended at {job['analysed_s']:.1f} s of {SECONDS:.1f} s: "
        "the file is truncated or corrupt after that point"
    )
    assert job["incidents"] >= 1, "what the analysed part showed is kept"
    mine = [i for i in ingest.ok("GET", "/incidents") if i["source_id"] == job["source_id"]]
    assert len(mine) == job["incidents"] and {i["clause"] for i in mine} >= {"3a"}
    files = [("file", (truncated.name, truncated.read_bytes(), "video/mp4"))]
    again = ingest.client.post("/ingest/videos", files=files, headers=ingest.admin.headers)
    assert again.status_code == 200 and again.json() == job, "the same bytes: the same outcome"


@needs_ffmpeg
@pytest.mark.shared_data
def test_a_cut_video_with_its_index_at_the_end_fails_naming_no_path(
    ingest: Api, tmp_path: Path
) -> None:
    video = cut(dashcam_mp4(tmp_path / "indexed-last.mp4", faststart=False), 0.3)
    job = analyse(ingest, video)
    assert job["status"] == "failed", job
    assert job["error"] == (
        f"cannot open video {video.name}: corrupt, not a video or unsupported codec"
    )
    assert job["duration_s"] is None and job["analysed_s"] is None and job["frames"] == 0


@pytest.mark.parametrize(
    ("coverage", "analysed_s", "partial"),
    [
        (Coverage(10.0, 0.25), 9.75, False),  # the last frame at 4 fps
        (Coverage(10.0, 0.25), 9.0, False),  # within 1 s of the end
        (Coverage(10.0, 0.25), 8.9, True),
        (Coverage(60.0, 2.0), 56.0, False),  # sampled at 0.5 fps: within 2 intervals
        (Coverage(60.0, 2.0), 55.9, True),
        (Coverage(None, 0.5), 0.0, False),  # the container does not say: nothing to judge
    ],
)
def test_a_video_is_short_when_its_frames_end_before_its_duration_less_a_tolerance(
    coverage: Coverage, analysed_s: float, partial: bool
) -> None:
    assert (coverage.shortfall(analysed_s) is not None) is partial
