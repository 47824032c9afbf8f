"""Live RTSP against a real server on loopback: frames, outages, watchdog and reconnects."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from capture_helpers import RtspRig

from detection.capture import LiveSource, StreamState, open_source
from detection.capture.decode import DecodeMode
from tests.conftest import wait_until

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]

# Fast settings for loopback: the test server only speaks RTP over UDP; a short analyze window
# makes opens take ~0.5 s instead of ~3 s, and reconnects are retried quickly. The timeouts stay
# the defaults: shorter ones take a loaded machine's pauses for outages.
FAST: dict[str, Any] = {
    "rtsp_transport": "udp",
    "ffmpeg_options": {"analyzeduration": "500000"},
    "backoff": {"initial_s": 0.2, "max_s": 1.0, "jitter": 0.2},
}
# FFmpeg's read timeout where the watchdog must act first: far beyond the watchdog's stall
# timeout, so a slow machine still finds the abandoned reader stuck when it looks.
STUCK_S = 30.0


def open_live(rig: RtspRig, **overrides: Any) -> LiveSource:
    source = open_source(rig.url("viewer:s3cret@"), source_id="cam", **{**FAST, **overrides})
    assert isinstance(source, LiveSource)
    return source


def test_frames_arrive_newest_first(rig: RtspRig) -> None:
    with open_live(rig) as source:
        first = next(source)
        assert first.image.shape == (48, 64, 3)
        assert (first.meta.source_id, first.meta.width, first.meta.height) == ("cam", 64, 48)
        assert first.meta.wall_time.tzinfo is not None
        # Two more frames arrive meanwhile (the second is in the slot once the packet after it
        # is read); only the newest is kept.
        wait_until(
            lambda: source.status().frames_read >= first.meta.frame_index + 4, "two more frames"
        )
        second = next(source)
        assert second.meta.frame_index > first.meta.frame_index + 1
        assert second.meta.pts > first.meta.pts
        status = source.status()
        assert status.state is StreamState.ONLINE
        assert status.frames_dropped > 0
        assert status.frames_read >= second.meta.frame_index + 1
        assert status.uri == rig.url("viewer:***@")
    assert source.status().state is StreamState.CLOSED
    with pytest.raises(StopIteration):
        next(source)


def test_live_fps_limits_the_rate(rig: RtspRig) -> None:
    """The rate holds in stream time: at 10 fps, frames kept at 2 fps are 5 or more apart."""
    with open_source(rig.url(), fps=2.0, **FAST) as limited:
        index = [next(limited).meta.frame_index for _ in range(4)]
    assert all(b - a >= 5 for a, b in itertools.pairwise(index))


def test_publisher_outage_goes_offline_and_recovers(rig: RtspRig) -> None:
    with open_live(rig) as source:
        next(source)
        rig.stop_publisher()
        wait_until(lambda: source.status().state is not StreamState.ONLINE, "offline")
        status = source.status()
        assert status.last_error is not None
        assert status.offline_since is not None
        before = status.frames_read
        rig.start_publisher()
        wait_until(lambda: source.status().frames_read > before, "frames to resume")
        frame = next(source)
        assert frame.meta.frame_index >= before
        assert source.status().reconnects >= 1
        assert source.status().offline_since is None


def test_publisher_crash_and_server_restart_recover(
    rig: RtspRig, capfd: pytest.CaptureFixture[str]
) -> None:
    with open_live(rig) as source:
        next(source)
        rig.crash_publisher()  # leaves a stale mount: reopening succeeds but no packet comes
        wait_until(lambda: source.status().state is not StreamState.ONLINE, "offline")
        rig.stop_server()
        wait_until(
            lambda: "refused" in (source.status().last_error or ""),
            "a reconnect attempt to find the server down",
        )
        before = source.status().frames_read
        rig.start_server()
        rig.start_publisher()
        wait_until(lambda: source.status().frames_read > before, "frames to resume")
        assert next(source).meta.frame_index >= before
        assert source.status().reconnects >= 1
    native = capfd.readouterr()  # OpenCV and FFmpeg write straight to the file descriptors
    assert "s3cret" not in native.out + native.err


def test_watchdog_reopens_a_reader_stuck_in_read(rig: RtspRig) -> None:
    """With OpenCV's read timeout far away, only the consumer-side watchdog can notice."""
    with open_live(rig, read_timeout_s=STUCK_S, stall_timeout_s=5.0) as source:
        next(source)
        rig.stop_publisher()
        wait_until(lambda: "stalled" in (source.status().last_error or ""), "the watchdog")
        assert source.status().state is not StreamState.ONLINE
        # The abandoned reader is still blocked in FFmpeg (until its read times out): a service
        # kills its worker process for it (serving.workers.cameras).
        assert source.status().stuck_readers == 1
        before = source.status().frames_read
        rig.start_publisher()
        wait_until(lambda: source.status().frames_read > before, "frames to resume")


def test_one_frame_a_second_decodes_only_keyframes(rig: RtspRig) -> None:
    """The rig's stream has a keyframe every second (10 frames): at 1 fps only those decode."""
    with open_source(rig.url(), fps=1.0, **FAST) as source:
        steps = steps_taken_in_a_row(source, 2)
        status = source.status()
    assert (status.decode, status.warning) == (DecodeMode.KEYFRAMES, None)
    assert status.keyframe_interval_s == pytest.approx(1.0, abs=0.05)
    assert steps == [10, 10]


def test_keyframes_sparser_than_the_rate_fall_back_to_full_decoding(rig: RtspRig) -> None:
    with open_source(rig.url(), fps=4.0, **FAST) as source:
        wait_until(lambda: source.status().decode is DecodeMode.ALL, "the GOP check")
        steps = steps_taken_in_a_row(source, 3)
        warning = source.status().warning
    assert warning is not None
    assert warning.startswith("keyframe interval 1 s is longer than the sampling interval 0.25 s")
    assert all(step in (2, 3) for step in steps), steps  # 0.25 s at 10 fps


def steps_taken_in_a_row(source: LiveSource, count: int) -> list[int]:
    """``count`` frame-index steps between frames taken one after another with no due frame
    dropped between them: the rate under test is the reader's, and a consumer held up on a
    loaded machine misses due frames."""
    steps: list[int] = []
    previous, dropped = next(source).meta.frame_index, source.status().frames_dropped

    def one_more() -> bool:
        nonlocal previous, dropped
        index, now_dropped = next(source).meta.frame_index, source.status().frames_dropped
        steps[:] = [*steps, index - previous] if now_dropped == dropped else []
        previous, dropped = index, now_dropped
        return len(steps) == count

    wait_until(one_more, f"{count} steps between frames taken in a row", poll_s=0)
    return steps
