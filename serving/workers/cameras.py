"""The camera supervisor: one worker (process or Ray actor) per enabled camera, and a watchdog.

The watchdog judges workers by what they report (``camera_runtime`` heartbeats), not by whether
a thread or process is alive: a worker is killed and restarted when it is

* dead (a local process that exited; Ray restarts its actors itself),
* silent for ``camera_hang_s`` (hung whole, or frozen by a signal),
* online but analysing no frame for ``camera_stall_s`` (stuck in the detector, rules or database),
* holding a stream reader stuck inside FFmpeg (only ending the process frees it), or
* over ``camera_max_rss_mb`` of memory (leaking).

Each kill is recorded as the camera's last error; the worker backs off after crashes in a row.
A camera that cannot be placed (no node has room) shows why in its status.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from detection.capture import redact_text
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import Camera, CameraRuntime, CameraState
from serving.schemas.cameras import CameraStatus
from serving.services import camera_runtime
from serving.services.analysis import Analysis
from serving.services.cameras import validated_config
from serving.services.errors import InvalidError, ServiceError, redact_paths
from serving.workers.camera import snapshot_path
from serving.workers.handles import Backend, CameraHandle

log = logging.getLogger(__name__)

_STOP_S = 5.0
_MB = 1024 * 1024


@dataclass
class _Slot:
    camera_id: int
    code: str
    handle: CameraHandle | None
    error: str | None = None  # why no worker runs (a config the taxonomy refuses, no cluster)
    retry: bool = False  # the backend refused it: the watchdog tries again
    launched_at: datetime | None = None  # reports older than this are of an earlier worker


class CameraManager:
    """Owns the workers; the API tells it when a camera changes, starts or stops."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        analysis: Analysis,
        backend: Backend,
        settings: Settings,
        *,
        enabled: bool = True,
    ) -> None:
        self.sessions = sessions
        self.analysis = analysis
        self.backend = backend
        self.settings = settings
        self.enabled = enabled
        self.watchdog_interval_s = min(1.0, settings.camera_restart_s)
        self._slots: dict[int, _Slot] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="camera-watchdog", daemon=True)

    def start(self, cameras: list[Camera]) -> None:
        for camera in cameras:
            self.apply(camera, fresh=False)
        self._watchdog.start()

    def close(self) -> None:
        self._closing.set()
        if self._watchdog.is_alive():
            self._watchdog.join(5.0)
        with self._lock:
            slots = list(self._slots.values())
            self._slots.clear()
        for slot in slots:
            if slot.handle is not None:
                slot.handle.stop(_STOP_S)

    def apply(self, camera: Camera, *, fresh: bool = True) -> None:
        """(Re)start the camera's worker with its current row, or stop it if disabled.

        ``fresh``: a user's start or change, so the counters start again; a service start-up
        (``fresh=False``) continues them, as a worker restarted after a crash does.
        """
        self.remove(camera.id)
        if not (self.enabled and camera.enabled) or self._closing.is_set():
            return
        slot = _Slot(camera.id, camera.code, None)
        with self._lock:
            self._slots[camera.id] = slot
        try:
            # the API's validation, again: e.g. the taxonomy changed under a stored config
            validated_config(self.analysis.taxonomy, camera.code, camera.config)
        except InvalidError as exc:
            log.error("camera %s not started: %s", camera.code, exc.message)
            slot.error = redact_paths(exc.message)
            return
        with self.sessions() as session:
            if fresh or camera_runtime.get(session, camera.id) is None:
                camera_runtime.reset(session, camera.id)
                snapshot_path(self.settings.evidence_root, camera.id).unlink(missing_ok=True)
        self._launch(slot)

    def remove(self, camera_id: int) -> None:
        with self._lock:
            slot = self._slots.pop(camera_id, None)
        if slot is not None and slot.handle is not None:
            slot.handle.stop(_STOP_S)

    def status(self, camera: Camera) -> CameraStatus:
        with self._lock:
            slot = self._slots.get(camera.id)
        with self.sessions() as session:
            row = camera_runtime.get(session, camera.id)
        state, error = self._state(slot, row)
        return CameraStatus(
            camera_id=camera.id,
            state=state,
            last_frame_time=row.last_frame_time if row else None,
            frames_analysed=row.frames_analysed if row else 0,
            reconnects=row.reconnects if row else 0,
            restarts=max(0, row.starts - 1) if row else 0,
            last_error=error,
            analysing=row.analysing if row else None,
            decode=row.decode if row else None,
            warning=row.warning if row and state is CameraState.ONLINE else None,
        )

    def _state(
        self, slot: _Slot | None, row: CameraRuntime | None
    ) -> tuple[CameraState, str | None]:
        if slot is None:
            return CameraState.STOPPED, row.last_error if row else None
        if slot.error is not None:
            return CameraState.OFFLINE, slot.error
        pending = slot.handle.pending() if slot.handle is not None else None
        if pending is not None:
            return CameraState.CONNECTING, pending
        if row is None:
            return CameraState.CONNECTING, None
        state = CameraState(row.state)
        silent = camera_runtime.silent_for(row)
        if state is not CameraState.STOPPED and silent > 3 * self.settings.camera_heartbeat_s + 2:
            return CameraState.OFFLINE, f"no report from its worker for {silent:.0f} s"
        return state, None if state is CameraState.ONLINE else row.last_error

    def snapshot(self, camera_id: int) -> bytes | None:
        """The newest analysed frame as JPEG, or None before the first one."""
        path = snapshot_path(self.settings.evidence_root, camera_id)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def _launch(self, slot: _Slot) -> None:
        try:
            handle = self.backend.start_camera(slot.camera_id)
        except ServiceError as exc:  # e.g. the cluster is unreachable: retried by the watchdog
            slot.error, slot.retry = exc.message, True
            log.error("camera %s not started: %s", slot.code, exc.message)
            return
        slot.error, slot.retry, slot.handle = None, False, handle
        slot.launched_at = utcnow()
        log.info("camera %s: worker started (%s)", slot.code, self.backend.name)

    def _watch(self) -> None:
        while not self._closing.wait(self.watchdog_interval_s):
            with self._lock:
                slots = list(self._slots.values())
            for slot in slots:
                try:
                    self._check(slot)
                except Exception:  # the watchdog itself must never stop
                    log.exception("camera %s: watchdog check failed", slot.code)

    def _check(self, slot: _Slot) -> None:
        if slot.handle is None:
            if slot.retry:
                self._launch(slot)
            return
        if (reason := slot.handle.exit_reason()) is not None:
            self._restart(slot, reason, kill=False)
            return
        with self.sessions() as session:
            row = camera_runtime.get(session, slot.camera_id)
        reason = None if row is None else unhealthy(row, slot.launched_at, self.settings)
        if reason is not None:
            self._restart(slot, reason, kill=True)

    def _restart(self, slot: _Slot, reason: str, *, kill: bool) -> None:
        with self._lock:
            if self._slots.get(slot.camera_id) is not slot:
                return  # replaced or removed meanwhile
        log.warning("camera %s: %s; restarting its worker", slot.code, reason)
        with self.sessions() as session:
            row = camera_runtime.get(session, slot.camera_id)
            if kill or row is None or row.state != CameraState.OFFLINE.value:
                # the worker did not record its end itself (killed, crashed hard)
                camera_runtime.crashed(session, slot.camera_id, redact_text(reason))
        assert slot.handle is not None
        slot.handle.kill()
        if slot.handle.restarts_itself:
            slot.launched_at = utcnow()
        else:
            self._launch(slot)


def unhealthy(
    row: CameraRuntime, launched_at: datetime | None, s: Settings, now: datetime | None = None
) -> str | None:
    """Why a running worker must be killed, judged from its heartbeat; None if it is well.

    Silence counts from the launch at the earliest (a new worker takes a moment to report);
    the other figures only once the report is this worker's own.
    """
    now = now or utcnow()
    if row.state == CameraState.STOPPED.value:
        return None
    since = max(row.beat_at, launched_at) if launched_at else row.beat_at
    silent = (now - since).total_seconds()
    if silent > s.camera_hang_s:
        return f"no report for {silent:.0f} s: the worker is hung"
    if launched_at is not None and row.beat_at < launched_at:
        return None
    if row.abandoned_readers:
        return "a stream reader is stuck inside the decoder"
    if row.rss_bytes > s.camera_max_rss_mb * _MB:
        return f"the worker uses {row.rss_bytes // _MB} MB, over camera_max_rss_mb"
    if row.state == CameraState.ONLINE.value and row.last_frame_time is not None:
        idle = (now - row.last_frame_time).total_seconds()
        if idle > s.camera_stall_s:
            return f"online but no frame analysed for {idle:.0f} s: the pipeline is stuck"
    return None
