"""One camera, inside its own worker process (a local child process or a Ray actor).

The process reads its camera row, counts the start in its heartbeat row, backs off after crashes
in a row (the count is in the database, so a restart on another node backs off too), then runs
``LiveSource`` (or, for a camera with a detection sub-stream, ``SubStreamSource``) →
``detection.pipeline`` (through ``Analysis``) → incidents. A heartbeat thread reports the stream's
state, decoding, warnings, frames analysed, memory and stuck readers every ``camera_heartbeat_s``,
and writes the newest frame as the camera's snapshot. Killing the process
kills whatever it holds, including a stream read stuck inside PyAV's FFmpeg.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
from sqlalchemy.orm import Session

from detection.backoff import backoff_s
from detection.capture import (
    DecodeMode,
    LiveConfig,
    LiveSource,
    StreamState,
    SubStreamSource,
    redact_text,
)
from detection.core import Frame
from serving.config import Settings
from serving.db.models import Camera, CameraState
from serving.services import camera_runtime, cameras
from serving.services.analysis import at_fixed_place
from serving.services.errors import redact_paths
from serving.workers.context import WorkerContext, check_store, worker_name

log = logging.getLogger(__name__)

MAX_RESTART_DELAY_S = 300.0
_STATES = {
    StreamState.ONLINE: CameraState.ONLINE,
    StreamState.OFFLINE: CameraState.OFFLINE,
    StreamState.CONNECTING: CameraState.CONNECTING,
    StreamState.CLOSED: CameraState.STOPPED,
}


def snapshot_path(root: Path, camera_id: int) -> Path:
    """Where a camera's newest analysed frame is kept (in the evidence store every node sees)."""
    return root / "snapshots" / f"camera-{camera_id}.jpg"


def restart_delay(restart_s: float, crashes_in_a_row: int) -> float:
    """Back-off before a start that follows ``crashes_in_a_row`` crashes: doubles, capped."""
    if crashes_in_a_row <= 0:
        return 0.0
    return backoff_s(restart_s, crashes_in_a_row - 1, MAX_RESTART_DELAY_S)


def rss_bytes() -> int:
    """This process's resident memory now (Linux), else its peak."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def camera_source(camera: Camera, settings: Settings) -> LiveSource | SubStreamSource:
    """The camera's stream, or its sub-stream with the main stream for evidence and fallback.

    ``camera_decode`` applies to the stream analysed, but ``auto`` decodes a sub-stream in full:
    that costs little more than its keyframes, and its frames are sampled at any moment, not in
    step with every camera sharing a keyframe phase, which keeps bursts and so the p95
    frame-to-incident latency down (docs/benchmarks/live.md). Beside a sub-stream the main stream
    decodes keyframes only: it gives evidence, and frames at the keyframe rate on a fallback.
    """
    config = partial(LiveConfig, fail_fast=False, rtsp_transport=camera.rtsp_transport)
    fps, decode = settings.camera_fps, settings.camera_decode
    if not camera.detect_url:
        live = config(decode=decode)
        return LiveSource(camera.stream_url, source_id=camera.code, fps=fps, config=live)
    main = LiveSource(
        camera.stream_url,
        source_id=camera.code,
        fps=fps,
        config=config(decode=DecodeMode.KEYFRAMES),
    )
    sub = config(decode=DecodeMode.ALL if decode is DecodeMode.AUTO else decode)
    detect = LiveSource(camera.detect_url, source_id=camera.code, fps=fps, config=sub)
    return SubStreamSource(main, detect, fallback_after_s=settings.camera_fallback_s)


class CameraRun:
    """Watches one camera until ``stop`` is set (exit 0) or it crashes (exit 1, error stored)."""

    def __init__(self, ctx: WorkerContext, camera_id: int, stop: threading.Event) -> None:
        self.ctx = ctx
        self.camera_id = camera_id
        self.stop = stop
        self.frames = 0
        self._base_frames = 0
        self._frame: Frame | None = None
        self._crashes = 0
        self._source: LiveSource | SubStreamSource | None = None
        self._lock = threading.Lock()

    def run(self) -> int:
        try:
            camera = self._begin()
            self._back_off()
            if self.stop.is_set():
                return 0
            self._watch(camera)
        except Exception as exc:  # stored for the status route; the supervisor restarts us
            error = f"{type(exc).__name__}: {redact_paths(redact_text(str(exc)))}"
            log.error("camera %d worker crashed: %s", self.camera_id, error)
            self._write(lambda s: camera_runtime.crashed(s, self.camera_id, error))
            return 1
        return 0

    def _begin(self) -> Camera:
        """Count this start (before anything can fail, so a crash is this start's) and read the
        camera and the counters a restart carries on from."""
        with self.ctx.sessions() as session:
            row = camera_runtime.begin(session, self.camera_id, worker_name())
            self._base_frames, self._crashes = row.frames_analysed, row.crashes_in_a_row
            camera = session.get(Camera, self.camera_id)
            if camera is None:
                raise LookupError(f"camera {self.camera_id} no longer exists")
            session.expunge(camera)
        check_store(self.ctx.settings.evidence_root)  # written evidence must reach reviewers
        return camera

    def _back_off(self) -> None:
        """Wait out the crashes in a row, still reporting (so the watchdog sees us waiting)."""
        delay = restart_delay(self.ctx.settings.camera_restart_s, self._crashes)
        if not delay:
            return
        log.info(
            "camera %d: %d crashes in a row; waiting %.1f s", self.camera_id, self._crashes, delay
        )
        until = time.monotonic() + delay
        interval = self.ctx.settings.camera_heartbeat_s
        offline = CameraState.OFFLINE.value
        while (left := until - time.monotonic()) > 0 and not self.stop.is_set():
            self._write(lambda s: camera_runtime.beat(s, self.camera_id, state=offline))
            self.stop.wait(min(interval, left))

    def _watch(self, camera: Camera) -> None:
        analysis, settings = self.ctx.analysis, self.ctx.settings
        analysis.detector.check()  # no model: crash now, not once per frame
        config = cameras.validated_config(analysis.taxonomy, camera.code, camera.config)
        source = camera_source(camera, settings)
        with self._lock:
            self._source = source
        beat = threading.Thread(target=self._beat, name=f"beat-{camera.code}", daemon=True)
        beat.start()
        try:
            analysis.run(
                source,
                config,
                fps=settings.camera_fps,
                locate=at_fixed_place(camera.lat, camera.lon),
                on_frame=self._seen,
            )
            requested = self.stop.is_set()
        finally:
            self.stop.set()
            beat.join(5.0)
            source.close()
        if not requested:
            raise RuntimeError("the stream reader ended unexpectedly")
        self._report(stopped=True)

    def _seen(self, frame: Frame) -> None:
        with self._lock:
            self.frames += 1
            self._frame = frame

    def _beat(self) -> None:
        """Report every heartbeat until stopped; then close the source (ends the watch loop)."""
        interval = self.ctx.settings.camera_heartbeat_s
        while not self.stop.wait(interval):
            self._report()
            self._save_snapshot()
        with self._lock:
            source = self._source
        if source is not None:
            source.close()

    def _report(self, stopped: bool = False) -> None:
        with self._lock:
            source, frames, frame = self._source, self.frames, self._frame
        values: dict[str, object] = {
            "frames_analysed": self._base_frames + frames,
            "rss_bytes": rss_bytes(),
        }
        if frame is not None:
            values["last_frame_time"] = frame.meta.wall_time
        if frames:
            values["crashes_in_a_row"] = 0  # frames flow again: the crash is over
        if source is not None:
            status = source.status()
            state = _STATES[status.state]
            values.update(
                state=state.value,
                reconnects=status.reconnects,
                abandoned_readers=status.stuck_readers,
                decode=status.decode.value if status.decode else None,
                warning=status.warning,
                analysing=source.analysing if isinstance(source, SubStreamSource) else "main",
            )
            if state is CameraState.ONLINE:
                values["last_error"] = None  # the last outage (or crash) is history
            elif status.last_error:
                values["last_error"] = status.last_error
        if stopped:
            values["state"] = CameraState.STOPPED.value
        self._write(lambda s: camera_runtime.beat(s, self.camera_id, **values))

    def _save_snapshot(self) -> None:
        with self._lock:
            frame, self._frame = self._frame, None
        if frame is None:
            return
        image = frame.image if frame.full is None else frame.full  # the zone editor's picture
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            return
        path = snapshot_path(self.ctx.settings.evidence_root, self.camera_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data.tobytes())
        tmp.replace(path)

    def _write(self, action: Callable[[Session], None]) -> None:
        """One heartbeat write; a database hiccup is logged, never the end of the worker."""
        try:
            with self.ctx.sessions() as session:
                action(session)
        except Exception as exc:
            log.warning("camera %d: heartbeat not stored: %s", self.camera_id, exc)
