"""Images, folders and video files: metadata, order, sampling and bad input."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from capture_helpers import gray_level, write_image, write_video

from detection.capture import (
    ImageSource,
    SnapshotSource,
    SourceKind,
    VideoFileSource,
    classify,
    open_source,
    video_header,
)
from detection.errors import ConfigError, InputError, SourceError

START = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def test_single_image(tmp_path: Path) -> None:
    path = write_image(tmp_path / "street.jpg")
    os.utime(path, (START.timestamp(), START.timestamp()))
    with open_source(str(path)) as source:
        assert isinstance(source, ImageSource)
        assert (source.source_id, source.is_live) == ("street.jpg", False)
        frames = list(source)
    assert len(frames) == 1
    meta = frames[0].meta
    assert (meta.frame_index, meta.pts, meta.width, meta.height) == (0, 0.0, 64, 48)
    assert meta.wall_time == START  # the file's mtime, tz-aware


def test_folder_natural_order_skips_non_images_and_corrupt_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in [("img10.png", 10), ("img2.png", 2), ("img1.jpg", 1)]:
        write_image(tmp_path / name, value)
    (tmp_path / "img3.jpg").write_bytes(b"\xff\xd8 truncated jpeg")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    with caplog.at_level(logging.WARNING), open_source(str(tmp_path), start_time=START) as source:
        assert isinstance(source, ImageSource)
        frames = list(source)
    assert [p.name for p in source.paths] == ["img1.jpg", "img2.png", "img3.jpg", "img10.png"]
    assert [f.meta.frame_index for f in frames] == [0, 1, 3]  # index into paths; 2 is corrupt
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 10]
    assert all(f.meta.wall_time == START for f in frames)
    assert source.skipped == [tmp_path / "img3.jpg"]
    assert "skipping 1 non-image file(s)" in caplog.text
    assert "notes.txt" in caplog.text
    assert f"cannot decode image {tmp_path / 'img3.jpg'}: corrupt" in caplog.text


def test_video_frames_carry_position_and_time(video_10fps: Path) -> None:
    with open_source(str(video_10fps), start_time=START) as source:
        assert isinstance(source, VideoFileSource)
        assert source.native_fps == pytest.approx(10.0)
        frames = list(source)
    assert [f.meta.frame_index for f in frames] == list(range(30))
    assert [f.meta.pts for f in frames] == pytest.approx([i / 10 for i in range(30)])
    assert frames[7].meta.wall_time == START + timedelta(seconds=0.7)
    # each frame is the one written at its index (MJPEG is lossy: allow a few gray levels)
    assert all(abs(int(f.image.mean()) - gray_level(f.meta.frame_index)) <= 3 for f in frames)


def test_video_wall_time_defaults_to_mtime(video_10fps: Path) -> None:
    os.utime(video_10fps, (START.timestamp(), START.timestamp()))
    with open_source(str(video_10fps)) as source:
        assert next(source).meta.wall_time == START


@pytest.mark.parametrize(
    ("fps", "kept"),
    [
        (None, list(range(30))),
        (10.0, list(range(30))),
        (30.0, list(range(30))),  # faster than the source: every frame
        (5.0, list(range(0, 30, 2))),
        (2.5, list(range(0, 30, 4))),
        (1.0, [0, 10, 20]),
        (3.0, [0, 4, 7, 10, 14, 17, 20, 24, 27]),  # due every 1/3 s, no drift
    ],
)
def test_video_fps_sampling(video_10fps: Path, fps: float | None, kept: list[int]) -> None:
    with open_source(str(video_10fps), fps=fps) as source:
        assert [f.meta.frame_index for f in source] == kept


def test_closing_early_stops_iteration(video_10fps: Path) -> None:
    with open_source(str(video_10fps)) as source:
        next(source)
    with pytest.raises(StopIteration):
        next(source)


def test_video_header_gives_the_containers_rate_and_frame_count(
    video_10fps: Path, tmp_path: Path
) -> None:
    assert video_header(video_10fps) == (10.0, 30.0)
    assert max(video_header(tmp_path / "missing.avi")) <= 0


def test_image_url_is_fetched_once(http_root: tuple[Path, str]) -> None:
    root, base = http_root
    write_image(root / "snapshot.jpg", 200)
    assert classify(f"{base}/snapshot.jpg") is SourceKind.SNAPSHOT
    with open_source(f"{base}/snapshot.jpg") as source:
        assert isinstance(source, SnapshotSource)
        frames = list(source)
    assert len(frames) == 1
    assert abs(int(np.median(frames[0].image)) - 200) <= 2
    assert source.source_id == f"{base.removeprefix('http://')}/snapshot.jpg"


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("clip.mp4", os.urandom(4096), InputError, "cannot open video {path}"),
        ("clip.avi", b"", InputError, "cannot open video {path}"),
        ("notes.txt", b"hello", InputError, "cannot open video {path}"),
        ("photo.jpg", b"", InputError, "cannot decode image {path}: the file is empty"),
        ("photo.png", b"\x89PNG garbage", InputError, "cannot decode image {path}: corrupt"),
    ],
)
def test_bad_files_name_the_input(
    tmp_path: Path, name: str, content: bytes, error: type[Exception], message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error) as info:
        open_source(str(path))
    assert message.format(path=path) in str(info.value)


def test_missing_and_empty_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        open_source(str(tmp_path / "missing.mp4"))
    assert str(info.value) == f"no such file or folder: {tmp_path / 'missing.mp4'}"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError) as info:
        open_source(str(tmp_path))
    assert str(info.value).startswith(f"no images in folder {tmp_path} (looked for .bmp, ")


def test_missing_image_url(http_root: tuple[Path, str]) -> None:
    _, base = http_root
    url = base.replace("http://", "http://cam:s3cret@") + "/missing.jpg"
    with pytest.raises(SourceError) as info:
        open_source(url, open_timeout_s=2)
    assert str(info.value) == (
        f"cannot fetch image {base.replace('http://', 'http://cam:***@')}/missing.jpg: "
        "not found, not an image, or access denied"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fps": 0.0}, "fps must be a positive number, got 0.0"),
        ({"fps": float("nan")}, "fps must be a positive number"),
        ({"colour": "red"}, "invalid options for video source .*colour: Extra inputs"),
        ({"start_time": datetime(2024, 1, 1)}, "start_time: Input should have timezone info"),
        (
            {"stall_timeout_s": 1},
            r"stall_timeout_s: Extra inputs .*\(valid: start_time, min_side\)",
        ),
    ],
)
def test_bad_options(video_10fps: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_source(str(video_10fps), **kwargs)  # type: ignore[arg-type]


def test_video_without_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "empty.avi", frames=0, fps=10.0)
    with pytest.raises(InputError) as info:
        open_source(str(path))
    assert str(info.value) == f"cannot read video {path}: it has no decodable video frames"
