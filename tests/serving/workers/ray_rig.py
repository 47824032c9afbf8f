"""A real two-node Ray cluster on loopback for the tests: a head and a second node, each a
``ray start --block`` in its own process group (so one node can be stopped without ``ray stop``,
which ends every Ray process on the machine)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import WAIT_S, wait_until
from tests.detection.capture.capture_helpers import free_tcp_port, port_open

RAY = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
# Token auth off on every process: a stale ~/.ray/auth_token from a local ray.init elsewhere
# would otherwise make the second node or the driver fail to connect.
ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


class RayRig:
    def __init__(self) -> None:
        self.port = free_tcp_port()
        self.temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: unix socket paths
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start(self, name: str, *args: str) -> None:
        assert RAY
        log = (self.temp / f"{name}.log").open("wb")
        command = [RAY, "start", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--block", *args]
        self.nodes[name] = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **ENV},
            start_new_session=True,
        )

    def start(self) -> None:
        head = [f"--port={self.port}", "--head", "--include-dashboard=false"]
        self._start("head", *head, f"--temp-dir={self.temp}", "--disable-usage-stats")
        wait_until(lambda: port_open(self.port), "the Ray head to listen")
        self._start("node2", f"--address={self.address}")

    def wait_for_nodes(self, ray: Any, count: int, timeout_s: float = WAIT_S) -> None:
        wait_until(
            lambda: sum(n["Alive"] for n in ray.nodes()) >= count,
            f"{count} Ray nodes",
            timeout_s,
            poll_s=0.5,
        )

    def kill(self, name: str) -> None:
        """The node's raylet, its workers and all: as if the machine went away."""
        proc = self.nodes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(WAIT_S)
        wait_until(lambda: not _group_running(proc.pid), f"the {name} node's processes to end")

    def stop(self) -> None:
        for name in list(self.nodes):
            self.kill(name)
        shutil.rmtree(self.temp, ignore_errors=True)


def _group_running(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies, which init reaps, do not)."""
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except ProcessLookupError:
            continue
    return False


def node_ids(ray: Any) -> tuple[str, str]:
    """(head, other) node ids of a two-node cluster."""
    alive = [n for n in ray.nodes() if n["Alive"]]
    head = next(n for n in alive if "node:__internal_head__" in n["Resources"])
    other = next(n for n in alive if n is not head)
    return head["NodeID"], other["NodeID"]
