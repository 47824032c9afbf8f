"""Helpers for capture tests: generated media and a real RTSP server + publisher on loopback."""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import wait_until

SIZE = (64, 48)  # width, height of generated test media


def gray_level(index: int) -> int:
    """The uniform gray of generated video frame ``index``: frames identify themselves."""
    return (index * 8) % 256


def write_video(path: Path, frames: int, fps: float) -> Path:
    """An MJPEG .avi whose frame i is uniformly ``gray_level(i)`` (OpenCV writes it everywhere)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for i in range(frames):
        writer.write(np.full((SIZE[1], SIZE[0], 3), gray_level(i), np.uint8))
    writer.release()
    return path


def encode_pattern(
    path: Path,
    *,
    size: str = "64x48",
    rate: int = 10,
    seconds: float = 2,
    gop: int = 10,
    keyframes_at: str | None = None,
) -> Path:
    """An H.264 test pattern made by ffmpeg (no B-frames, a keyframe every ``gop`` frames, or
    only at the ``keyframes_at`` seconds, e.g. "0,1,2,4"); a ``.ts`` path gets MPEG-TS with
    in-band headers, so such files can be concatenated."""
    if not FFMPEG:
        pytest.skip("needs ffmpeg (scripts/setup.sh installs it)")
    command = [FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"]
    command += ["-i", f"testsrc=size={size}:rate={rate}", "-t", str(seconds), "-c:v", "libx264"]
    command += ["-preset", "ultrafast", "-tune", "zerolatency", "-g", str(gop), "-bf", "0"]
    if keyframes_at:
        command += ["-force_key_frames", keyframes_at, "-sc_threshold", "0"]
    command += ["-pix_fmt", "yuv420p", str(path)]
    subprocess.run(command, check=True, timeout=60)
    return path


def write_image(path: Path, value: int = 128) -> Path:
    assert cv2.imwrite(str(path), np.full((SIZE[1], SIZE[0], 3), value, np.uint8))
    return path


# -- RTSP: rtsp-server-perl + ffmpeg publisher on loopback ---------------------------------------

FFMPEG = "/usr/bin/ffmpeg" if Path("/usr/bin/ffmpeg").exists() else shutil.which("ffmpeg")
RTSP_SERVER = shutil.which("rtsp-server-perl")
PERL = shutil.which("perl")
RTP_PORTS = 200  # UDP ports reserved per server: each publisher/viewer SETUP takes the next two
# rtsp-server-perl sets its next RTP port back to the module's $RTP_START_PORT, 20000, whenever
# no stream is mounted (RTSP::Server::housekeeping, as each connection closes), whatever
# --rtp_start_port said: a publisher that comes back would bind UDP 20000, which another server
# on the machine (a second test run, the demo) may hold. Setting that variable to the rig's own
# block before the script runs keeps each server in its block.
SERVE_IN_BLOCK = (
    "my ($port, $script) = splice @ARGV, 0, 2; "
    "$RTSP::Server::RTP_START_PORT = $port; do $script; die $@ if $@"
)


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_block(size: int) -> int:
    """First port of ``size`` consecutive free UDP ports on loopback, between rtsp-server-perl's
    default block (20000) and Linux's ephemeral range (32768 up), where the kernel hands ports
    to other programs."""
    for _ in range(50):
        base = random.randrange(21000, 32768 - size, 2)
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + size):
                    sock = stack.enter_context(socket.socket(type=socket.SOCK_DGRAM))
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError(f"no block of {size} free UDP ports")


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def stop_process(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` and reap the process; SIGKILL if it has not exited within 5 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class RtspRig:
    """``rtsp-server-perl`` and an ffmpeg publisher looping ``video`` into it, on loopback.

    ``more`` adds streams at other paths (a camera's sub-stream, say), each looped by its own
    publisher. See the ``rtsp_rig`` fixture for how the server has to be run.
    """

    def __init__(self, workdir: Path, video: Path, more: dict[str, Path] | None = None) -> None:
        self.workdir = workdir
        self.video = video
        self.more = more or {}
        self.others: dict[str, subprocess.Popen[bytes]] = {}
        self.client_port = free_tcp_port()
        self.source_port = free_tcp_port()
        self.rtp_start = free_udp_block(RTP_PORTS)
        self.server: subprocess.Popen[bytes] | None = None
        self.publisher: subprocess.Popen[bytes] | None = None

    @contextlib.contextmanager
    def running(self) -> Iterator[RtspRig]:
        """Server and publisher up for the ``with`` block, both stopped after it."""
        try:
            self.start_server()
            self.start_publisher()
            for path in self.more:
                self.start_other(path)
            yield self
        finally:
            self.stop()

    def url(self, userinfo: str = "", path: str = "cam") -> str:
        return f"rtsp://{userinfo}127.0.0.1:{self.client_port}/{path}"

    def start_server(self) -> None:
        assert RTSP_SERVER and PERL
        cmd = [PERL, "-MRTSP::Server", "-e", SERVE_IN_BLOCK, str(self.rtp_start), RTSP_SERVER]
        cmd += ["--clientport", str(self.client_port)]
        cmd += ["--serverport", str(self.source_port), "--rtp_start_port", str(self.rtp_start)]
        cmd += ["--client_listen_address", "127.0.0.1", "--source_listen_address", "127.0.0.1"]
        self.server = self._spawn(cmd, "server.log")
        wait_until(
            lambda: port_open(self.client_port) and port_open(self.source_port),
            "rtsp-server-perl to listen",
        )

    def start_publisher(self) -> None:
        self.publisher = self._publish(self.video, "cam")

    def start_other(self, path: str) -> None:
        self.others[path] = self._publish(self.more[path], path)

    def stop_other(self, path: str) -> None:
        stop_process(self.others.pop(path, None), signal.SIGINT)

    def _publish(self, video: Path, path: str) -> subprocess.Popen[bytes]:
        assert FFMPEG
        cmd = [FFMPEG, "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1"]
        cmd += ["-i", str(video), "-c", "copy", "-an", "-rtsp_transport", "udp"]
        cmd += ["-f", "rtsp", f"rtsp://127.0.0.1:{self.source_port}/{path}"]
        publisher = self._spawn(cmd, f"publisher-{path}.log")
        wait_until(lambda: self.stream_ready(path), f"the publisher to ANNOUNCE /{path}")
        return publisher

    def stream_ready(self, path: str = "cam") -> bool:
        """True once a viewer's DESCRIBE succeeds, i.e. the publisher has mounted the stream."""
        request = f"DESCRIBE {self.url(path=path)} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()
        try:
            with socket.create_connection(("127.0.0.1", self.client_port), 1.0) as sock:
                sock.sendall(request)
                return sock.recv(64).startswith(b"RTSP/1.0 200")
        except OSError:
            return False

    def crash_publisher(self) -> None:
        """SIGKILL: no TEARDOWN, so the server keeps a mount that serves no packets."""
        stop_process(self.publisher)
        self.publisher = None

    def stop_server(self) -> None:
        stop_process(self.server)
        self.server = None

    def stop_publisher(self) -> None:
        """Stop publishing: SIGINT makes ffmpeg send TEARDOWN, which unmounts the stream."""
        stop_process(self.publisher, signal.SIGINT)
        self.publisher = None

    def stop(self) -> None:
        for path in list(self.others):
            self.stop_other(path)
        self.stop_publisher()
        self.stop_server()

    def _spawn(self, cmd: list[str], log_name: str) -> subprocess.Popen[bytes]:
        with (self.workdir / log_name).open("ab") as log:
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
