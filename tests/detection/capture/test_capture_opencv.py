"""OpenCV glue: per-source FFmpeg options through the process-wide environment variable."""

from __future__ import annotations

import os
import threading

import pytest

from detection.capture.opencv import ENV_VAR, _EnvGate


def test_env_gate_serialises_only_opens_with_different_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    gate = _EnvGate()
    a_inside, a_release = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def open_a() -> None:
        with gate.holding("a"):
            a_inside.set()
            a_release.wait(5)

    def open_b() -> None:
        with gate.holding("b"):
            seen["b"] = os.environ[ENV_VAR]
            seen["a released first"] = a_release.is_set()

    thread_a = threading.Thread(target=open_a)
    thread_a.start()
    assert a_inside.wait(5)
    with gate.holding("a"):  # same options: no waiting for the other open
        seen["a"] = os.environ[ENV_VAR]
    thread_b = threading.Thread(target=open_b)
    thread_b.start()
    thread_b.join(0.2)  # give B every chance to enter too early
    a_release.set()
    thread_a.join(5)
    thread_b.join(5)
    assert seen == {"a": "a", "b": "b", "a released first": True}
    assert ENV_VAR not in os.environ  # restored once nobody opens


def test_env_gate_restores_the_user_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "rtsp_transport;tcp")
    gate = _EnvGate()
    with gate.holding("rtsp_transport;udp"):
        assert os.environ[ENV_VAR] == "rtsp_transport;udp"
    with gate.holding(None):
        assert os.environ[ENV_VAR] == "rtsp_transport;tcp"
    assert os.environ[ENV_VAR] == "rtsp_transport;tcp"
