"""Stream workers: one thread per enabled camera, and a watchdog that restarts crashed ones.

A worker runs ``LiveSource(fail_fast=False)`` → shared detector → ByteTracker → RulesEngine with
the camera's config → the incidents table. Stream outages are the source's business (it goes
offline and reconnects with backoff); anything that ends the worker itself (no model, too many
failed frames) is recorded and the watchdog starts a fresh worker after a growing delay.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np
import numpy.typing as npt

from detection.capture import LiveConfig, LiveSource, StreamState, redact_text
from detection.core import Frame
from detection.errors import ConfigError
from detection.rules.config import SourceConfig
from serving.db.models import Camera, CameraState
from serving.schemas.cameras import CameraStatus
from serving.services.analysis import Analysis, at_fixed_place
from serving.services.errors import redact_paths

log = logging.getLogger(__name__)

_JOIN_S = 5.0
_MAX_RESTART_DELAY_S = 300.0


@dataclass(frozen=True)
class CameraSpec:
    """What a worker needs of a camera row (rows are not shared between threads)."""

    id: int
    code: str
    url: str
    rtsp_transport: str
    lat: float | None
    lon: float | None
    config: SourceConfig

    @property
    def uri(self) -> str:
        """The URL as logs may show it."""
        return redact_text(self.url)


@dataclass
class CameraStats:
    """Counters that outlive one worker, so restarts do not reset them."""

    frames_analysed: int = 0
    restarts: int = 0
    crashes_in_a_row: int = 0
    last_error: str | None = None
    last_frame: npt.NDArray[np.uint8] | None = None
    last_frame_time: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class CameraWorker:
    def __init__(
        self, spec: CameraSpec, analysis: Analysis, fps: float, stats: CameraStats
    ) -> None:
        self.spec = spec
        self.analysis = analysis
        self.fps = fps
        self.stats = stats
        self.stopped = threading.Event()
        self.crashed_at: float | None = None
        self._source: LiveSource | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"camera-{spec.code}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self.stopped.set()
        with self._lock:
            source = self._source
        if source is not None:
            source.close()  # the watch loop sees the end of the stream and closes its incidents
        self._thread.join(_JOIN_S)

    def _run(self) -> None:
        try:
            self.analysis.detector.check()  # no model: crash now, not once per frame
            config = LiveConfig(fail_fast=False, rtsp_transport=self.spec.rtsp_transport)
            source = LiveSource(
                self.spec.url, source_id=self.spec.code, fps=self.fps, config=config
            )
            with self._lock:
                self._source = source
            if self.stopped.is_set():
                source.close()
            self.analysis.run(
                source,
                self.spec.config,
                fps=self.fps,
                locate=at_fixed_place(self.spec.lat, self.spec.lon),
                on_frame=self._seen,
            )
            if not self.stopped.is_set():
                self._crashed("the stream reader ended unexpectedly")
        except Exception as exc:  # recorded and restarted by the watchdog
            self._crashed(f"{type(exc).__name__}: {redact_paths(redact_text(str(exc)))}")
        finally:
            with self._lock:
                if self._source is not None:
                    self._source.close()

    def _seen(self, frame: Frame) -> None:
        with self.stats.lock:
            self.stats.frames_analysed += 1
            self.stats.crashes_in_a_row = 0
            self.stats.last_error = None  # frames flow again: the crash is over
            self.stats.last_frame = frame.image
            self.stats.last_frame_time = frame.meta.wall_time

    def _crashed(self, error: str) -> None:
        log.error("camera %s worker crashed: %s", self.spec.code, error)
        with self.stats.lock:
            self.stats.last_error = error
            self.stats.crashes_in_a_row += 1
        self.crashed_at = time.monotonic()

    def status(self) -> tuple[CameraState, int, str | None]:
        """(state, reconnects, stream error) of the running worker."""
        with self._lock:
            source = self._source
        if self.crashed_at is not None:
            return CameraState.OFFLINE, 0, None
        if source is None:
            return CameraState.CONNECTING, 0, None
        live = source.status()
        state = {
            StreamState.ONLINE: CameraState.ONLINE,
            StreamState.OFFLINE: CameraState.OFFLINE,
            StreamState.CONNECTING: CameraState.CONNECTING,
            StreamState.CLOSED: CameraState.STOPPED,
        }[live.state]
        return state, live.reconnects, live.last_error


class CameraManager:
    """Owns the workers; the API tells it when a camera changes, starts or stops."""

    def __init__(
        self,
        analysis: Analysis,
        fps: float,
        restart_delay_s: float,
        *,
        enabled: bool = True,
    ) -> None:
        self.analysis = analysis
        self.enabled = enabled
        self.fps = fps
        self.restart_delay_s = restart_delay_s
        self.watchdog_interval_s = min(1.0, restart_delay_s)
        self._workers: dict[int, CameraWorker] = {}
        self._stats: dict[int, CameraStats] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="camera-watchdog", daemon=True)

    def start(self, cameras: list[Camera]) -> None:
        for camera in cameras:
            self.apply(camera)
        self._watchdog.start()

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for worker in workers:
            worker.stop()
        if self._watchdog.is_alive():
            self._watchdog.join(_JOIN_S)

    def apply(self, camera: Camera) -> None:
        """(Re)start the camera's worker with its current row, or stop it if disabled."""
        self.remove(camera.id, forget=False)
        if not (self.enabled and camera.enabled) or self._closing.is_set():
            return
        try:
            config = self.analysis.config(camera.config)
        except ConfigError as exc:  # e.g. the taxonomy changed under a stored config
            log.error("camera %s not started: %s", camera.code, exc)
            with self._lock:
                self._stats.setdefault(camera.id, CameraStats()).last_error = redact_paths(str(exc))
            return
        spec = CameraSpec(
            id=camera.id,
            code=camera.code,
            url=camera.stream_url,
            rtsp_transport=camera.rtsp_transport,
            lat=camera.lat,
            lon=camera.lon,
            config=config,
        )
        self._launch(spec)

    def remove(self, camera_id: int, forget: bool = True) -> None:
        with self._lock:
            worker = self._workers.pop(camera_id, None)
            if forget:
                self._stats.pop(camera_id, None)
        if worker is not None:
            worker.stop()

    def status(self, camera: Camera) -> CameraStatus:
        with self._lock:
            worker = self._workers.get(camera.id)
            stats = self._stats.get(camera.id) or CameraStats()
        state, reconnects, stream_error = (
            worker.status() if worker is not None else (CameraState.STOPPED, 0, None)
        )
        with stats.lock:
            # The source keeps its last outage's reason; once online again it is history.
            error = None if state is CameraState.ONLINE else stream_error or stats.last_error
            return CameraStatus(
                camera_id=camera.id,
                state=state,
                last_frame_time=stats.last_frame_time,
                frames_analysed=stats.frames_analysed,
                reconnects=reconnects,
                restarts=stats.restarts,
                last_error=error,
            )

    def snapshot(self, camera_id: int) -> bytes | None:
        """The newest analysed frame as JPEG, or None before the first one."""
        with self._lock:
            stats = self._stats.get(camera_id)
        if stats is None:
            return None
        with stats.lock:
            image = stats.last_frame
        if image is None:
            return None
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        return bytes(data) if ok else None

    def _launch(self, spec: CameraSpec) -> None:
        with self._lock:
            stats = self._stats.setdefault(spec.id, CameraStats())
            worker = CameraWorker(spec, self.analysis, self.fps, stats)
            self._workers[spec.id] = worker
        worker.start()
        log.info("camera %s: watching %s", spec.code, spec.uri)

    def _watch(self) -> None:
        while not self._closing.wait(self.watchdog_interval_s):
            with self._lock:
                dead = [w for w in self._workers.values() if w.crashed_at and not w.is_alive()]
            for worker in dead:
                with worker.stats.lock:
                    failures = worker.stats.crashes_in_a_row
                delay = min(_MAX_RESTART_DELAY_S, self.restart_delay_s * 2 ** max(failures - 1, 0))
                assert worker.crashed_at is not None
                if time.monotonic() - worker.crashed_at < delay:
                    continue
                with self._lock:
                    if self._workers.get(worker.spec.id) is not worker:
                        continue  # replaced or removed meanwhile
                with worker.stats.lock:
                    worker.stats.restarts += 1
                log.warning("camera %s: restarting its worker", worker.spec.code)
                self._launch(worker.spec)
