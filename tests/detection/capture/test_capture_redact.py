"""Passwords never leave the process in URLs shown to people."""

from __future__ import annotations

import pytest

from detection.capture import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://user:secret@host/x", "rtsp://user:***@host/x"),
        (
            "rtsp://user:secret@10.0.0.5:554/Streaming/101",
            "rtsp://user:***@10.0.0.5:554/Streaming/101",
        ),
        ("rtsps://admin:p%40ss@cam.local/live", "rtsps://admin:***@cam.local/live"),
        ("rtsp://admin:p@ss@host/x", "rtsp://admin:***@host/x"),  # unencoded '@' in password
        ("rtsp://admin:ab/cd@host/x", "rtsp://admin:***@host/x"),  # unencoded '/' in password
        ("rtsp://admin:a?b#c@host/x", "rtsp://admin:***@host/x"),  # '?' and '#' too
        ("rtsp://user@host/x", "rtsp://user@host/x"),  # no password: nothing to hide
        ("rtsp://host:554/x", "rtsp://host:554/x"),
        ("http://h/video.cgi?user=admin&pwd=secret", "http://h/video.cgi?user=admin&pwd=***"),
        ("http://h/v?Password=s&TOKEN=t&x=1#f", "http://h/v?Password=***&TOKEN=***&x=1#f"),
        ("https://u:s@h/snap.jpg?token=t", "https://u:***@h/snap.jpg?token=***"),
        ("http://[::1/x?pwd=s", "http://[::1/x?pwd=***"),  # malformed IPv6 still redacted
        ("/data/videos/clip.mp4", "/data/videos/clip.mp4"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_finds_urls_in_messages() -> None:
    message = "failed to open 'rtsp://a:b@h/1' and http://c:d@h/2?key=k, giving up"
    assert redact_text(message) == (
        "failed to open 'rtsp://a:***@h/1' and http://c:***@h/2?key=***, giving up"
    )
