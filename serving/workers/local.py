"""Worker processes on this machine (the default): ``multiprocessing`` (spawn) children, one per
camera and per dashcam job, and a pool for photos. Each is killed with SIGKILL if it does not
stop on SIGTERM, and ends by itself once the service is gone (it polls its parent pid)."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from functools import partial
from multiprocessing.process import BaseProcess

from serving.config import Settings
from serving.services.errors import WorkerDiedError
from serving.services.photos import Analysed
from serving.workers import procs
from serving.workers.handles import CameraHandle, JobHandle

log = logging.getLogger(__name__)


def _exit_reason(process: BaseProcess) -> str | None:
    code = process.exitcode
    if code is None:
        return None
    if code < 0:
        return f"the worker process was killed by {signal.Signals(-code).name}"
    return f"the worker process exited with code {code}"


class _LocalCamera:
    restarts_itself = False

    def __init__(self, process: BaseProcess) -> None:
        self.process = process

    def exit_reason(self) -> str | None:
        return None if self.process.is_alive() else _exit_reason(self.process)

    def stop(self, timeout_s: float) -> None:
        if self.process.is_alive():
            self.process.terminate()  # SIGTERM: the worker closes its incidents and exits
            self.process.join(timeout_s)
        self.kill()
        self.process.join(timeout_s)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()

    def pending(self) -> str | None:
        return None


class _LocalJob:
    def __init__(self, process: BaseProcess) -> None:
        self.process = process

    def wait(self, timeout_s: float) -> bool:
        self.process.join(timeout_s)
        return not self.process.is_alive()

    def died(self) -> str | None:
        return None if self.process.exitcode == 0 else _exit_reason(self.process)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(30.0)
        if self.process.is_alive():
            self.process.kill()


class LocalBackend:
    """Worker processes on this machine; see the module docstring."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._mp = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _spawn(self, target: Callable[[Settings, int], None], name: str, row: int) -> BaseProcess:
        process = self._mp.Process(
            target=target, args=(self.settings, row), name=f"shirong-{name}-{row}", daemon=True
        )
        process.start()
        return process

    def start_camera(self, camera_id: int) -> CameraHandle:
        return _LocalCamera(self._spawn(procs.camera_process, "camera", camera_id))

    def start_job(self, job_id: int) -> JobHandle:
        return _LocalJob(self._spawn(procs.job_process, "job", job_id))

    def analyse_photo(self, sha256: str, stored_at: datetime) -> Analysed:
        """In a pool worker. A broken pool (a worker died, perhaps just before this photo came)
        is replaced and the photo tried once more: its analysis is idempotent (stored by hash)."""
        task = partial(procs.analyse_photo, self.settings, sha256, stored_at)
        try:
            return self._in_pool(task)
        except BrokenProcessPool:
            try:
                return self._in_pool(task)
            except BrokenProcessPool as exc:
                raise WorkerDiedError(
                    "the photo analysis worker died; the photo is stored"
                ) from exc

    def _in_pool(self, task: Callable[[], Analysed]) -> Analysed:
        try:
            return self._photo_pool().submit(task).result()
        except BrokenProcessPool:
            self._drop_pool()
            raise

    def _photo_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.settings.photo_workers,
                    mp_context=self._mp,
                    initializer=procs.photo_init,
                    initargs=(self.settings,),
                )
            return self._pool

    def _drop_pool(self) -> None:
        """A pool worker died (the pool is then broken): the next photo gets a fresh pool."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._drop_pool()
