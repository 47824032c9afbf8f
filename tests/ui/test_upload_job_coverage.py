"""The upload page says how much of a video its job analysed, and why a cut one stopped early."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import COCO_INT8
from tests.serving.helpers import SAMPLED, cut, dashcam_mp4, needs_ffmpeg
from tests.ui.helpers import LiveService, open_as, serve

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, needs_ffmpeg]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The live service of tests/ui/conftest.py with the COCO stand-in, so video jobs run."""
    with serve(tmp_path_factory.mktemp("live-jobs"), model_path=COCO_INT8, video_fps=SAMPLED) as s:
        yield s


def row(page: Any, video: Path, status: str) -> Any:
    """The video's result row once its job is in ``status`` (the page polls GET /jobs/{id})."""
    locator = page.locator(f"#upload-results li[data-name='{video.name}'][data-status={status}]")
    locator.wait_for()
    return locator


def upload(page: Any, *videos: Path) -> None:
    page.set_input_files("#upload-files", [str(video) for video in videos])
    page.click("#upload-submit")


def test_a_cut_video_shows_stopped_early_with_its_seconds_and_a_whole_one_done(
    browser: Any, live: LiveService, artifacts: Path, tmp_path: Path
) -> None:
    whole = dashcam_mp4(tmp_path / "whole.mp4", faststart=True)
    truncated = cut(dashcam_mp4(tmp_path / "dashcam.mp4", faststart=True), 0.3)
    page = open_as(browser, live, "dispatcher", "#/upload")
    upload(page, truncated)
    shown = row(page, truncated, "partial").inner_text()
    assert "提前中止" in shown and "秒 / 共 10.0 秒" in shown and "帧 / 约 40 帧" in shown, shown
    assert "秒（共 10.0 秒）处中断：此后的文件被截断或已损坏。此前发现的事件已保留。" in shown
    page.screenshot(path=artifacts / "upload-partial-job.png", full_page=True)
    page.click("#lang")
    # The English page, not the Chinese one still shown until the switch renders: files chosen
    # there would go with the page it replaces, and no row would ever show here.
    page.wait_for_selector("#upload-submit:has-text('Upload')")
    upload(page, truncated, whole)  # the cut bytes again: their job as it ended
    shown = row(page, truncated, "partial").inner_text()
    assert "stopped early" in shown and "uploaded before" in shown, shown
    assert "The video ended at " in shown and " s of 10.0 s: the file is truncated" in shown
    done = row(page, whole, "succeeded").inner_text()
    assert "done" in done and "s of 10.0 s analysed" in done and "40 of about 40 frames" in done
    page.screenshot(path=artifacts / "upload-partial-job-en.png", full_page=True)
    assert page.errors == []
    page.context.close()
