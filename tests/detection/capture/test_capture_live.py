"""Live sources without an RTSP server: unreachable cameras, give-up, backoff, HTTP streams."""

from __future__ import annotations

import logging
import random
import re
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from capture_helpers import write_video
from pydantic import ValidationError

from detection.capture import (
    Backoff,
    LiveConfig,
    LiveSource,
    SourceKind,
    StreamState,
    classify,
    open_source,
)
from detection.errors import ConfigError, SourceError
from tests.conftest import WAIT_S, wait_until

QUICK: dict[str, Any] = {"backoff": {"initial_s": 0.05, "max_s": 0.2}}


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def camera_url(port: int) -> str:
    return f"rtsp://admin:s3cret@127.0.0.1:{port}/Streaming/101?token=t0ken"


def test_unreachable_camera_fails_fast_without_leaking_the_password(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="detection.capture"),
        pytest.raises(SourceError) as info,
    ):
        open_source(camera_url(closed_port), **QUICK)
    shown = f"rtsp://admin:***@127.0.0.1:{closed_port}/Streaming/101?token=***"
    assert str(info.value) == (
        f"cannot open live stream {shown}: cannot reach 127.0.0.1:{closed_port}: Connection refused"
    )
    assert shown in caplog.text
    assert "s3cret" not in caplog.text
    assert "t0ken" not in caplog.text


def test_offline_reader_keeps_retrying_and_reports_status(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="detection.capture"):
        source = open_source(camera_url(closed_port), fail_fast=False, **QUICK)
        assert isinstance(source, LiveSource)
        with source:
            wait_until(lambda: caplog.text.count("reconnecting in") >= 3, "retries")
            status = source.status()
            assert status.state in {StreamState.OFFLINE, StreamState.CONNECTING}
            assert (status.frames_read, status.reconnects, status.last_frame_time) == (0, 0, None)
            assert status.offline_since is not None
            assert status.last_error == f"cannot reach 127.0.0.1:{closed_port}: Connection refused"
            assert "s3cret" not in status.model_dump_json()
    assert source.status().state is StreamState.CLOSED
    with pytest.raises(StopIteration):
        next(source)
    assert "s3cret" not in caplog.text


def test_close_from_another_thread_ends_a_waiting_consumer(closed_port: int) -> None:
    source = open_source(camera_url(closed_port), fail_fast=False, **QUICK)
    outcome: list[str] = []

    def consume() -> None:
        try:
            next(source)
            outcome.append("frame")
        except StopIteration:
            outcome.append("stopped")

    consumer = threading.Thread(target=consume)
    consumer.start()
    source.close()
    consumer.join(WAIT_S)
    assert outcome == ["stopped"]


def test_gives_up_after_the_configured_outage(closed_port: int) -> None:
    source = open_source(camera_url(closed_port), fail_fast=False, give_up_after_s=0.3, **QUICK)
    with source, pytest.raises(SourceError) as info:
        next(source)
    message = str(info.value)
    assert message.startswith(
        f"gave up on live stream rtsp://admin:***@127.0.0.1:{closed_port}/Streaming/101"
    )
    assert message.endswith(
        f"after 0.3 s without frames; last error: cannot reach 127.0.0.1:{closed_port}: "
        "Connection refused"
    )
    assert source.status().state is StreamState.CLOSED


def test_http_video_stream_is_live_and_reconnects_at_its_end(
    http_root: tuple[Path, str],
) -> None:
    root, base = http_root
    write_video(root / "cam.avi", frames=10, fps=10.0)
    url = f"{base}/cam.avi"
    assert classify(url) is SourceKind.LIVE
    with open_source(url, ffmpeg_options={"probesize": "100000"}, **QUICK) as source:
        assert source.is_live
        frame = next(source)
        assert (frame.meta.width, frame.meta.height) == (64, 48)
        assert frame.meta.wall_time.tzinfo is not None
        assert isinstance(source, LiveSource)
        wait_until(lambda: source.status().reconnects >= 1, "a reconnect after the end")
        assert next(source).meta.frame_index > frame.meta.frame_index


@pytest.mark.parametrize(
    ("uri", "error", "message"),
    [
        ("ftp://user:pw@host/x", SourceError, "unsupported source ftp://user:***@host/x: scheme"),
        ("rtsp:///x", SourceError, "malformed URL rtsp:///x: it has no host"),
        ("rtsp://u:pw@host:99999/x", SourceError, "malformed URL rtsp://u:***@host:99999/x: Port"),
    ],
)
def test_bad_urls(uri: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        open_source(uri)
    assert str(info.value).startswith(message)
    assert "pw" not in str(info.value)


def test_live_options_are_validated(closed_port: int) -> None:
    with pytest.raises(ConfigError) as info:
        open_source(camera_url(closed_port), read_timeout=3)
    message = str(info.value)
    assert "invalid options for live source rtsp://admin:***@" in message
    assert "read_timeout: Extra inputs are not permitted" in message
    assert "valid: open_timeout_s, read_timeout_s, stall_timeout_s" in message
    with pytest.raises(ConfigError, match=re.escape("ffmpeg option 'a|b'='1' must be non-empty")):
        open_source(camera_url(closed_port), ffmpeg_options={"a|b": "1"})
    with pytest.raises(ValidationError, match=r"max_s \(1.0\) must be >= initial_s \(2.0\)"):
        Backoff(initial_s=2.0, max_s=1.0)


def test_backoff_grows_to_its_cap() -> None:
    backoff = Backoff(initial_s=0.5, max_s=5.0, factor=2.0, jitter=0.0)
    rng = random.Random(0)
    assert [backoff.delay(n, rng) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert backoff.delay(10_000, rng) == 5.0  # no overflow after a very long outage


def test_backoff_jitter_spreads_within_bounds() -> None:
    backoff = Backoff(initial_s=1.0, max_s=3.0, factor=2.0, jitter=0.25)
    rng = random.Random(1)
    first = [backoff.delay(0, rng) for _ in range(200)]
    assert all(0.75 <= d <= 1.25 for d in first)
    assert len({round(d, 6) for d in first}) > 100  # actually random, not a constant
    assert all(2.25 <= backoff.delay(5, rng) <= 3.0 for _ in range(200))  # capped after jitter


def test_live_config_defaults_are_sane() -> None:
    config = LiveConfig()
    assert config.rtsp_transport == "tcp"
    assert config.give_up_after_s is None
    assert config.stall_timeout_s > config.read_timeout_s
