"""Photo and dashcam uploads from the browser: real detector and rules, real video jobs, and the
refusals a user reads (client-side by type, the server's 413/415 by their detail)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from serving.db.models import Incident, Job, UserRole
from serving.schemas.auth import UserCreate
from serving.services.users import create_user
from tests.conftest import COCO_INT8
from tests.serving.helpers import GPX, PASSWORD, PLANTS, write_video
from tests.ui.helpers import LiveService, open_as, serve

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

PHOTO_MAX = 200_000  # PLANTS is 64 kB; a 413 needs only a slightly larger photo


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The service with the COCO stand-in model, a small photo cap, an admin and an ingest user."""
    root = tmp_path_factory.mktemp("upload")
    with serve(root, model_path=COCO_INT8, video_fps=4.0, upload_max_bytes=PHOTO_MAX) as service:
        with service.services.sessions() as session:
            for username, role in (("chief", UserRole.ADMIN), ("uploader", UserRole.INGEST)):
                data = UserCreate(username=username, password=PASSWORD, role=role)
                create_user(session, service.services.passwords, data)
            session.commit()
        yield service


def uploads(page: Any) -> list[str]:
    """Upload requests the page sent."""
    return [r.url for r in page.requests if "/ingest/" in r.url]


def track_requests(page: Any) -> Any:
    page.requests = []
    page.on("request", lambda r: page.requests.append(r))
    return page


def test_a_photo_upload_lists_its_incidents_with_links_into_review(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    page = open_as(browser, live, "chief", "#/upload")
    page.set_input_files("#upload-files", str(PLANTS))
    page.click("#upload-submit")
    row = page.locator("#upload-results li[data-kind=photo][data-sha]")
    row.wait_for()
    with live.services.sessions() as session:
        found = list(session.scalars(select(Incident.id).order_by(Incident.id)))
    assert found, "the potted plants on the pavement are a 3a incident"
    assert "新照片" in row.inner_text() and f"发现 {len(found)} 个事件" in row.inner_text()
    links = row.locator("a[href^='#/review/']")
    assert [
        int(x)
        for x in row.locator("[data-incident]").evaluate_all(
            "items => items.map(i => i.dataset.incident)"
        )
    ] == found
    assert links.count() == len(found) and "3a" in links.first.inner_text()
    page.screenshot(path=artifacts / "upload-photo.png", full_page=True)

    page.set_input_files("#upload-files", str(PLANTS))  # the same bytes: the same incidents
    page.click("#upload-submit")
    page.locator("#upload-results li[data-kind=photo][data-sha]").nth(1).wait_for()
    assert "此前已上传：事件相同" in page.locator("#upload-results > li").first.inner_text()

    links.first.click()
    page.wait_for_selector(f"#queue tr[data-id='{found[0]}'].current")
    assert page.errors == []
    page.context.close()


def test_a_dashcam_video_with_its_track_runs_its_job_to_the_end(
    browser: Any, live: LiveService, artifacts: Path, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "dashcam.mp4", cv2.imread(str(PLANTS)), frames=24)
    track = tmp_path / "track.gpx"
    track.write_text(GPX)
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).bytes(50_000))
    page = open_as(browser, live, "uploader")  # the ingest role: uploads only, its home
    page.wait_for_selector("#upload-form")
    assert page.url.endswith("#/upload")
    assert page.locator("#nav a:not([hidden])").all_inner_texts() == ["上传"]

    page.set_input_files("#upload-files", str(video))
    page.set_input_files("#upload-gps", str(track))
    page.click("#upload-submit")
    done = page.locator("#upload-results li[data-kind=video][data-status=succeeded]")
    done.wait_for()
    with live.services.sessions() as session:
        job = session.scalars(select(Job)).one()
    assert done.get_attribute("data-job") == str(job.id)
    text = done.inner_text()
    assert "完成" in text and "100%" in text and "track.gpx" in text
    assert f"{job.frames} 帧" in text and f"{job.incidents} 事件" in text and job.incidents >= 1

    page.set_input_files("#upload-files", str(noise))
    page.click("#upload-submit")
    failed = page.locator("#upload-results li[data-kind=video][data-status=failed]")
    failed.wait_for()
    error = failed.locator(".job-error").inner_text()
    assert error.startswith("cannot open video noise.mp4") and "/" not in error
    page.screenshot(path=artifacts / "upload-video.png", full_page=True)
    assert page.errors == []
    page.context.close()


def big_png() -> bytes:
    noise = np.random.default_rng(1).integers(0, 255, (400, 400, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    assert len(buffer.getvalue()) > PHOTO_MAX
    return buffer.getvalue()


def test_what_is_not_a_photo_or_video_is_refused_in_the_users_language(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    page = track_requests(open_as(browser, live, "chief", "#/upload"))
    notes = {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"}
    photo = {"name": "ok.jpg", "mimeType": "image/jpeg", "buffer": PLANTS.read_bytes()}
    page.set_input_files("#upload-files", [photo, notes])
    page.click("#upload-submit")
    error = page.locator("#upload-error")
    assert error.inner_text().startswith("notes.txt：不是照片或视频（照片支持 JPEG、PNG、WEBP")
    assert error.inner_text().endswith("未上传任何文件。")
    clip = {"name": "a.mp4", "mimeType": "video/mp4", "buffer": b"x" * 64}
    page.set_input_files("#upload-files", [clip, {**clip, "name": "b.mp4"}])
    page.set_input_files("#upload-gps", {"name": "t.gpx", "mimeType": "", "buffer": b"<gpx/>"})
    page.click("#upload-submit")
    assert error.inner_text() == "GPS 轨迹只能配一个视频，当前选择了 2 个，未上传任何文件。"
    assert uploads(page) == [] and page.locator("#upload-results li").count() == 0
    page.screenshot(path=artifacts / "upload-refused.png", full_page=True)

    fake = {"name": "fake.jpg", "mimeType": "image/jpeg", "buffer": b"plain text, not a JPEG"}
    large = {"name": "large.png", "mimeType": "image/png", "buffer": big_png()}
    page.set_input_files("#upload-gps", [])
    page.set_input_files("#upload-files", [fake, large])
    page.click("#upload-submit")
    refused = page.locator("#upload-results li.failed [role=alert]")
    refused.nth(1).wait_for()
    by_name = {
        page.locator("#upload-results li.failed").nth(i).get_attribute("data-name"): refused.nth(
            i
        ).inner_text()
        for i in range(2)
    }
    # In Chinese, with the server's detail (which types, which limit) after it; no server path.
    assert (
        by_name["fake.jpg"].startswith("不支持的文件类型（")
        and "JPEG, PNG and WebP" in by_name["fake.jpg"]
    )
    assert (
        by_name["large.png"].startswith("文件或请求过大") and str(PHOTO_MAX) in by_name["large.png"]
    )
    assert all("/" not in text for text in by_name.values()), by_name
    page.screenshot(path=artifacts / "upload-server-refusals.png", full_page=True)

    page.click("#lang")
    page.wait_for_selector("#upload-submit:has-text('Upload')")
    page.set_input_files("#upload-files", notes)
    page.click("#upload-submit")
    assert error.inner_text().startswith("notes.txt: not a photo or video (photos: JPEG, PNG, WEBP")
    page.click("#lang")
    assert page.errors == []
    page.context.close()
