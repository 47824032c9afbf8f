"""``shirong detect``'s annotated MP4 is H.264 (what browsers play), probed with ffprobe."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detection import detect
from detection.detect import AnnotatedVideo
from detection.errors import InputError

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="needs ffmpeg and ffprobe (scripts/setup.sh)",
)


def write(path: Path, frames: int, size: tuple[int, int] = (241, 321)) -> Path:
    video = AnnotatedVideo(path, fps=10.0)
    for i in range(frames):
        video.write(np.full((*size, 3), (i * 9) % 256, np.uint8))
    video.close()
    return path


def probe(path: Path) -> dict[str, Any]:
    fields = "stream=codec_name,pix_fmt,width,height,nb_read_frames"
    command = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames"]
    out = subprocess.run(
        [*command, "-show_entries", fields, "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    stream: dict[str, Any] = json.loads(out.stdout)["streams"][0]
    return stream


def test_the_annotated_video_is_h264_yuv420p_with_the_index_first(tmp_path: Path) -> None:
    path = write(tmp_path / "annotated.mp4", frames=15)  # odd size: padded to even for yuv420p
    stream = probe(path)
    assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == (322, 242)
    assert int(stream["nb_read_frames"]) == 15
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "+faststart: playable while downloading"


def test_without_ffmpeg_it_warns_and_writes_mp4v(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(detect.shutil, "which", lambda name: None)
    with caplog.at_level(logging.WARNING, logger="detection.detect"):
        path = write(tmp_path / "annotated.mp4", frames=5, size=(240, 320))
    assert "ffmpeg is not installed" in caplog.text and "browsers do not play" in caplog.text
    assert probe(path)["codec_name"] == "mpeg4"


def test_an_unwritable_output_names_the_file_and_ffmpegs_reason(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "annotated.mp4"
    with pytest.raises(InputError) as error:
        write(target, frames=40, size=(480, 640))  # more than the pipe holds: the write fails
    assert str(error.value).startswith(f"cannot write video {target}: ffmpeg: ")
    assert "No such file or directory" in str(error.value)
