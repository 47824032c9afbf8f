"""What the service benchmarks share: ports, waiting, a loopback RTSP server with publishers, a
running ``shirong serve`` with a logged-in client, and process-tree CPU and memory.

Imported by the ``scripts/bench_*.py`` scripts (``sys.path`` holds their folder when run).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHIRONG_SHARED", REPO.parent / "shared"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
    except OSError:
        return False
    return True


def wait(what: str, timeout_s: float, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if value := check():
                return value
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    """SIGINT (ffmpeg sends TEARDOWN, the service closes incidents), then SIGKILL."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Streams:
    """rtsp-server-perl on loopback with one ffmpeg publisher per path looping a clip (packets
    copied, nothing re-encoded). Every viewer of a path is a separate RTSP session.

    ``offsets`` starts a path's clip that many seconds in; publishers start 0.3 s apart, so
    streams of one clip are out of step as real cameras are (keyframes, scene changes).
    """

    def __init__(
        self, clips: dict[str, Path], work: Path, offsets: dict[str, float] | None = None
    ) -> None:
        self.viewer, self.source = free_port(), free_port()
        server = [shutil.which("rtsp-server-perl") or "rtsp-server-perl"]
        server += ["--clientport", str(self.viewer), "--serverport", str(self.source)]
        server += ["--rtp_start_port", str(32000 + os.getpid() % 1000 * 20)]
        server += ["--client_listen_address", "127.0.0.1", "--source_listen_address", "127.0.0.1"]
        self.log = (work / "rtsp.log").open("wb")
        self.server = subprocess.Popen(server, stdout=self.log, stderr=self.log)
        self.publishers: list[subprocess.Popen[bytes]] = []
        wait("the RTSP server", 30, lambda: port_open(self.source) and port_open(self.viewer))
        for path, clip in clips.items():
            publish = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1"]
            publish += ["-ss", str((offsets or {}).get(path, 0.0))]
            publish += ["-i", str(clip), "-c", "copy", "-an", "-rtsp_transport", "udp"]
            publish += ["-f", "rtsp", f"rtsp://127.0.0.1:{self.source}/{path}"]
            self.publishers.append(subprocess.Popen(publish, stdout=self.log, stderr=self.log))
            time.sleep(0.3)
        time.sleep(3.0)

    def url(self, path: str) -> str:
        return f"rtsp://127.0.0.1:{self.viewer}/{path}"

    @property
    def pids(self) -> list[int]:
        return [self.server.pid, *(p.pid for p in self.publishers)]

    def close(self) -> None:
        for proc in [*self.publishers, self.server]:
            stop(proc, 5)


@contextmanager
def service(
    code: Path, data: Path, env: dict[str, str], before: Callable[[dict[str, str]], None] = print
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes], float]]:
    """``shirong serve`` of the checkout ``code`` on a fresh SQLite database in ``data``:
    (a client logged in as the demo admin, the process, seconds to /health). ``before(env)``
    runs after seeding, before the service starts (to fill the database)."""
    data.mkdir(parents=True)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "YOLO_OFFLINE": "1",
        "SHIRONG_ENV": "development",
        "SHIRONG_DATABASE_URL": f"sqlite:///{data}/shirong.db",
        "SHIRONG_EVIDENCE_ROOT": str(data / "evidence"),
        **env,
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "serving.cli", "seed-demo"],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    password = re.search(r"demo-admin\s+(\S+)", seeded)
    assert password, seeded
    before(env)
    log = (data / "serve.log").open("wb")
    started = time.monotonic()
    command = [sys.executable, "-m", "serving.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, cwd=code, stdout=log, stderr=log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            wait("/health", 120, lambda: client.get("/health").status_code == 200)
            health_s = time.monotonic() - started
            form = {"username": "demo-admin", "password": password.group(1)}
            token = client.post("/auth/login", data=form).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            yield client, proc, health_s
    finally:
        stop(proc, 60)


def tree_memory(pid: int) -> tuple[float, float]:
    """(RSS, USS) in MB of a process and all its descendants."""
    root = psutil.Process(pid)
    rss = uss = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        rss, uss = rss + info.rss, uss + info.uss
    return rss / 2**20, uss / 2**20


def worker_processes(pid: int) -> list[psutil.Process]:
    """The service's spawned worker processes (not multiprocessing's resource tracker)."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "spawn_main" in line and "resource_tracker" not in line:
            found.append(child)
    return found


def cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    """User + system CPU seconds so far, by pid (processes gone meanwhile are left out)."""
    found = {}
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        found[proc.pid] = times.user + times.system
    return found
