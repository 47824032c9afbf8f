"""The Ray backend (``SHIRONG_RAY_ADDRESS``): cameras as actors, dashcam jobs and photos as tasks.

A camera actor holds its tracker and rules state in its worker process; Ray places it where
``camera_cpus`` are free (spread over the nodes) and, with ``max_restarts=-1``, starts it again
on a node that is alive when its own dies. The restarted actor reads its camera row and heartbeat
from PostgreSQL; a situation it sees again is folded into the open incident by recurrence, so
nothing is duplicated. Actors belong to the service's driver: if the service stops, they stop.

Ray is an extra (``pip install 'shirong[ray]'``); the import is guarded so that a service without
it says which extra to install.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from serving.config import Settings
from serving.services.errors import WorkerDiedError, WorkersUnavailableError
from serving.services.photos import Analysed
from serving.workers import procs
from serving.workers.camera import CameraRun
from serving.workers.context import context
from serving.workers.handles import CameraHandle, JobHandle

log = logging.getLogger(__name__)

_PROBE_S = 3.0
_PENDING = frozenset({"PENDING_CREATION", "DEPENDENCIES_UNREADY"})
_PHOTO_TIMEOUT_S = 300.0


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise WorkersUnavailableError(
            "SHIRONG_RAY_ADDRESS is set but Ray is not installed: pip install 'shirong[ray]'"
        ) from exc
    return ray


class CameraActor:
    """One camera in a Ray worker; the loop runs in a thread so ``stop`` can be called."""

    def __init__(self, settings: Settings, camera_id: int) -> None:
        self._stop = threading.Event()
        ctx = context(settings, threads=settings.camera_threads)
        self._run = CameraRun(ctx, camera_id, self._stop)
        self._thread = threading.Thread(target=self._loop, name=f"camera-{camera_id}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        if self._run.run() != 0 and not self._stop.is_set():
            os._exit(1)  # a crash ends the process: Ray starts the actor again (it backs off)

    def stop(self) -> bool:
        self._stop.set()
        self._thread.join(10.0)
        return not self._thread.is_alive()


class _RayCamera:
    restarts_itself = True

    def __init__(self, ray: Any, actor: Any, cpus: float) -> None:
        self.ray, self.actor, self.cpus = ray, actor, cpus

    def _state(self) -> str | None:
        try:
            from ray._private.state import state  # no public call without the dashboard

            info = state.actor_table(self.actor._actor_id.hex())
            return str(info.get("State")) if info else None
        except Exception:
            return None

    def exit_reason(self) -> str | None:
        return "the Ray actor is dead" if self._state() == "DEAD" else None

    def pending(self) -> str | None:
        if self._state() in _PENDING:
            return f"waiting for a Ray node with {self.cpus:g} free CPU (camera_cpus)"
        return None

    def stop(self, timeout_s: float) -> None:
        try:
            self.ray.get(self.actor.stop.remote(), timeout=timeout_s)
        except Exception as exc:
            log.info("camera actor did not stop cleanly: %s", exc)
        self.ray.kill(self.actor, no_restart=True)

    def kill(self) -> None:
        self.ray.kill(self.actor, no_restart=False)  # Ray starts it again


class _RayJob:
    def __init__(self, ray: Any, ref: Any) -> None:
        self.ray, self.ref = ray, ref

    def wait(self, timeout_s: float) -> bool:
        ready, _ = self.ray.wait([self.ref], timeout=timeout_s)
        return bool(ready)

    def died(self) -> str | None:
        try:
            self.ray.get(self.ref)
        except self.ray.exceptions.RayError as exc:
            return f"its Ray worker died ({type(exc).__name__})"
        return None

    def stop(self) -> None:
        self.ray.cancel(self.ref, force=True)


class RayBackend:
    """Connects on first use, so a service whose cluster is down still starts and answers."""

    name = "ray"

    def __init__(self, settings: Settings) -> None:
        assert settings.ray_address
        self.settings = settings
        self.address = settings.ray_address
        self._lock = threading.Lock()
        self._ray: Any = None
        self._camera: Any = None
        self._job: Any = None
        self._photo: Any = None

    def _connected(self) -> Any:
        with self._lock:
            if self._ray is None:
                self._connect()
            return self._ray

    def _connect(self) -> None:
        ray = _ray()
        host, port = self._host_port()
        try:  # ray.init waits minutes on an address nobody answers: probe first
            socket.create_connection((host, port), timeout=_PROBE_S).close()
        except OSError as exc:
            raise WorkersUnavailableError(
                f"cannot reach the Ray cluster at {self.address} (SHIRONG_RAY_ADDRESS): {exc}"
            ) from exc
        loopback = host in ("127.0.0.1", "localhost")
        opts = {"_node_ip_address": "127.0.0.1"} if loopback else {}
        ray.init(
            address=f"{host}:{port}",
            namespace="shirong",
            log_to_driver=False,
            ignore_reinit_error=True,
            **opts,
        )
        s = self.settings
        self._camera = ray.remote(CameraActor).options(
            num_cpus=s.camera_cpus, max_restarts=-1, scheduling_strategy="SPREAD"
        )
        self._job = ray.remote(procs.run_job).options(num_cpus=1, max_retries=0)
        self._photo = ray.remote(procs.analyse_photo).options(num_cpus=1, max_retries=0)
        self._ray = ray
        log.info("connected to the Ray cluster at %s", self.address)

    def _host_port(self) -> tuple[str, int]:
        parts = urlsplit(f"//{self.address.removeprefix('ray://')}")
        return parts.hostname or "127.0.0.1", parts.port or 6379

    def start_camera(self, camera_id: int) -> CameraHandle:
        ray = self._connected()
        actor = self._camera.remote(self.settings, camera_id)
        return _RayCamera(ray, actor, self.settings.camera_cpus)

    def start_job(self, job_id: int) -> JobHandle:
        ray = self._connected()
        return _RayJob(ray, self._job.remote(self.settings, job_id))

    def analyse_photo(self, sha256: str, stored_at: datetime) -> Analysed:
        ray = self._connected()
        ref = self._photo.remote(self.settings, sha256, stored_at)
        try:
            result: Analysed = ray.get(ref, timeout=_PHOTO_TIMEOUT_S)
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None  # the task's own error (ModelError, ...)
        except ray.exceptions.RayError as exc:
            raise WorkerDiedError(f"the photo analysis worker died ({type(exc).__name__})") from exc
        return result

    def close(self) -> None:
        with self._lock:
            if self._ray is not None:
                self._ray.shutdown()
                self._ray = None
