"""PyAV stream reading: which packets are decoded in each mode, GOP checks, open errors.

``StreamReader`` opens anything FFmpeg opens, so small H.264 files made by ffmpeg stand in for a
camera here; tests against a real RTSP server are in test_capture_rtsp.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from capture_helpers import FFMPEG, encode_pattern, free_tcp_port

from detection.capture.decode import DecodeMode, StreamOpenError, StreamReader

FPS = 25


def h264(path: Path, gop: int, seconds: int = 4) -> Path:
    return encode_pattern(path, rate=FPS, seconds=seconds, gop=gop)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("decode")


def read_all(path: Path, mode: DecodeMode, interval_s: float) -> tuple[StreamReader, int]:
    """(reader, images due) after reading the whole file."""
    reader = StreamReader(
        str(path),
        mode=mode,
        interval_s=interval_s,
        open_timeout_s=5,
        read_timeout_s=5,
        options={},
    )
    images = [reader.image(packet) for packet in reader.packets()]
    reader.close()
    assert all(i.shape == (48, 64, 3) for i in images if i is not None)
    return reader, sum(i is not None for i in images)


@pytest.mark.parametrize(
    ("mode", "gop", "images", "decoded", "expected_mode"),
    [
        (DecodeMode.ALL, FPS, 4, 4 * FPS, DecodeMode.ALL),
        (DecodeMode.KEYFRAMES, FPS, 4, 4, DecodeMode.KEYFRAMES),
        (DecodeMode.AUTO, FPS, 4, 4, DecodeMode.KEYFRAMES),
        # GOP 0.2 s: only due keyframes decode; the one at 0.8 s is close enough to 1 s
        (DecodeMode.AUTO, 5, 5, 5, DecodeMode.KEYFRAMES),
    ],
)
def test_each_mode_decodes_what_it_should(
    media: Path, mode: DecodeMode, gop: int, images: int, decoded: int, expected_mode: DecodeMode
) -> None:
    reader, due = read_all(h264(media / f"g{gop}.mp4", gop), mode, interval_s=1.0)
    assert (due, reader.decoded, reader.mode, reader.warning) == (
        images,
        decoded,
        expected_mode,
        None,
    )
    assert reader.gop_s == pytest.approx(gop / FPS)


def test_auto_falls_back_to_full_decoding_when_keyframes_are_too_sparse(media: Path) -> None:
    reader, images = read_all(h264(media / "g50.mp4", 2 * FPS, 10), DecodeMode.AUTO, 1.0)
    assert reader.mode is DecodeMode.ALL
    # Keyframes at 0, 2 and 4 s; the third 2 s interval (at 6 s) confirms the GOP: from then on
    # every frame is decoded and one a second kept (6, 7, 8, 9 s).
    assert (images, reader.decoded) == (3 + 4, 3 + 4 * FPS)
    assert reader.warning == (
        "keyframe interval 2 s is longer than the sampling interval 1 s: keyframe-only decoding "
        "analyses at most 0.5 frames/s; decoding every frame instead (costs more CPU)"
    )


def test_forced_keyframes_keep_the_mode_and_say_what_it_costs(media: Path) -> None:
    reader, images = read_all(h264(media / "g50.mp4", 2 * FPS, 10), DecodeMode.KEYFRAMES, 1.0)
    assert (reader.mode, images, reader.decoded) == (DecodeMode.KEYFRAMES, 5, 5)
    assert reader.warning is not None
    assert reader.warning.endswith("keyframe-only decoding analyses at most 0.5 frames/s")


def test_one_missing_keyframe_is_not_a_long_gop(media: Path) -> None:
    """A keyframe lost on the network looks like one long interval; it changes nothing."""
    video = encode_pattern(
        media / "lost.mp4", rate=FPS, seconds=8, gop=1000, keyframes_at="0,1,2,4,5,6,7"
    )
    reader, images = read_all(video, DecodeMode.AUTO, 1.0)
    assert (reader.mode, reader.warning, images) == (DecodeMode.KEYFRAMES, None, 7)
    assert reader.gop_s == pytest.approx(1.0)


def test_auto_without_a_rate_decodes_and_returns_everything(media: Path) -> None:
    reader, images = read_all(h264(media / f"g{FPS}.mp4", FPS), DecodeMode.AUTO, 0.0)
    assert (reader.mode, images, reader.decoded) == (DecodeMode.ALL, 4 * FPS, 4 * FPS)


def test_open_errors_name_the_problem_without_the_password(media: Path) -> None:
    url = f"http://viewer:s3cret@127.0.0.1:{free_tcp_port()}/cam.mp4"
    with pytest.raises(StreamOpenError) as info:
        StreamReader(
            url,
            mode=DecodeMode.AUTO,
            interval_s=1.0,
            open_timeout_s=2,
            read_timeout_s=2,
            options={},
        )
    assert "refused" in str(info.value).lower()
    assert "s3cret" not in str(info.value)


def test_a_stream_without_video_is_refused(media: Path) -> None:
    if not FFMPEG:
        pytest.skip("needs ffmpeg")
    audio = media / "tone.m4a"
    subprocess.run(
        [
            FFMPEG,
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine",
            "-t",
            "1",
            str(audio),
        ],
        check=True,
        timeout=60,
    )
    with pytest.raises(StreamOpenError, match="the stream has no video track"):
        StreamReader(
            str(audio),
            mode=DecodeMode.AUTO,
            interval_s=1.0,
            open_timeout_s=2,
            read_timeout_s=2,
            options={},
        )
