"""Fixtures for capture tests: small generated media, and a real RTSP server and publisher.

Everything is generated under ``tmp_path`` (no ../shared needed). See ``RtspRig`` in
capture_helpers.py for how rtsp-server-perl has to be run.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from capture_helpers import FFMPEG, RTSP_SERVER, RtspRig, encode_pattern, write_video


@pytest.fixture
def video_10fps(tmp_path: Path) -> Path:
    """3 s of 10 fps video: 30 frames."""
    return write_video(tmp_path / "clip.avi", frames=30, fps=10.0)


@pytest.fixture(scope="module")
def h264_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of 10 fps H.264 test pattern with a key frame every second, made by ffmpeg."""
    if not FFMPEG or not RTSP_SERVER:
        pytest.skip("RTSP tests need ffmpeg and rtsp-server-perl (scripts/setup.sh installs both)")
    return encode_pattern(tmp_path_factory.mktemp("rtsp") / "pattern.mp4")


@pytest.fixture(scope="module")
def rtsp_rig(h264_video: Path) -> Iterator[RtspRig]:
    """A real RTSP server with a publisher on loopback, shared by a test module.

    How rtsp-server-perl (Debian package, RTSP::Server 0.06) has to be run:

    * Two TCP ports: ``--serverport`` takes publishers (ANNOUNCE/RECORD, i.e. ``ffmpeg -f rtsp``),
      ``--clientport`` takes viewers (DESCRIBE/SETUP/PLAY). The defaults 5545/554 need root for
      554 and clash between runs, so each rig picks free ports above 1024. No config file, root
      or package beyond scripts/setup.sh's ``rtsp-server-perl`` and ``ffmpeg`` is needed.
    * ``--client_listen_address``/``--source_listen_address`` default to 0.0.0.0; we bind
      127.0.0.1.
    * Media goes over RTP/UDP only (no RTSP-interleaved TCP): the publisher needs
      ``-rtsp_transport udp`` and readers ``rtsp_transport="udp"`` (OpenCV asks for TCP by
      default, which this server rejects). Each SETUP takes the next two UDP ports from
      ``--rtp_start_port`` (default 20000), so each rig reserves a free block of its own; the
      server goes back to 20000 itself once nothing is mounted, so the rig runs it with the
      module's start port set to that block (``SERVE_IN_BLOCK``).
    * It logs nothing useful (block-buffered stdout); it is ready when both TCP ports accept,
      1-2 s after start (Perl/Moose start-up), and a stream is ready when DESCRIBE answers 200.
    * It unmounts a stream only on TEARDOWN, not when the publisher's connection drops: a
      SIGKILLed publisher leaves a mount that serves no packets and blocks a new ANNOUNCE of the
      same path (403) until the server restarts. ``stop_publisher`` therefore uses SIGINT, after
      which ffmpeg sends TEARDOWN; ``crash_publisher`` simulates the hard failure.

    Tests may stop and restart either process; ``rig`` brings both back for the next test.
    """
    with RtspRig(h264_video.parent, h264_video).running() as rig:
        yield rig


@pytest.fixture
def rig(rtsp_rig: RtspRig) -> RtspRig:
    """The module's rig, with server and publisher running again if a previous test stopped them."""
    if rtsp_rig.server is None or rtsp_rig.server.poll() is not None:
        rtsp_rig.stop()
        rtsp_rig.start_server()
    if rtsp_rig.publisher is None or rtsp_rig.publisher.poll() is not None:
        rtsp_rig.start_publisher()
    return rtsp_rig


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real HTTP server on loopback serving a fresh folder: (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean."""
