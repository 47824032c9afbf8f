"""Dashcam videos: stored on upload, analysed by one background runner, tracked as jobs.

A job goes queued → running → succeeded | failed. A corrupt video or GPS track fails its own job
with the reason and the runner carries on with the next. Jobs left running by a stopped service
are queued again at start-up (analysis is idempotent: incident ids are deterministic).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import cv2
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from detection.capture import open_source
from detection.capture.base import FrameSource
from detection.core import Frame
from detection.errors import ShirongError
from detection.geo import load_track_or_warn
from detection.rules.cli import Locator
from serving.db.base import utcnow
from serving.db.models import Job, JobStatus, User
from serving.services.errors import NotFoundError, TooLargeError, UnsupportedTypeError
from serving.workers.analysis import Analysis, moving_config

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".ts", ".webm"})
GPS_SUFFIXES = frozenset({".gpx", ".nmea", ".txt", ".srt", ".log"})
GPS_MAX_BYTES = 50 * 1024 * 1024
_CHUNK = 1 << 20
_PROGRESS_EVERY_S = 1.0


def store_upload(
    stream: IO[bytes], name: str, folder: Path, suffixes: frozenset[str], max_bytes: int
) -> str:
    """Copy an upload into ``folder`` as ``<sha256><suffix>`` (hashing as it goes); the file name.

    The suffix is the only thing taken from the client's name; the content is judged by the job.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in suffixes:
        raise UnsupportedTypeError(
            f"'{name}' has an unsupported extension; accepted: {', '.join(sorted(suffixes))}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False) as tmp:
        try:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLargeError(f"'{name}' is over {max_bytes} bytes, the limit")
                digest.update(chunk)
                tmp.write(chunk)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    stored = f"{digest.hexdigest()}{suffix}"
    if (folder / stored).exists():  # keep the first copy: its mtime is the video's start time
        Path(tmp.name).unlink()
    else:
        Path(tmp.name).replace(folder / stored)
    return stored


def create(
    session: Session, user: User, video_file: str, video_name: str, gps_file: str | None
) -> Job:
    job = Job(
        kind="video",
        status=JobStatus.QUEUED.value,
        source_id=f"dashcam-{video_file[:12]}",
        video_file=video_file,
        video_name=video_name[:200],
        gps_file=gps_file,
        progress=0.0,
        frames=0,
        incidents=0,
        created_by=user.id,
    )
    session.add(job)
    session.commit()
    return job


def get(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    return job


class JobRunner:
    """One thread working through queued jobs in order (CPU-bound; one at a time)."""

    def __init__(
        self, sessions: sessionmaker[Session], analysis: Analysis, folder: Path, fps: float
    ) -> None:
        self.sessions = sessions
        self.analysis = analysis
        self.folder = folder
        self.fps = fps
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="video-jobs", daemon=True)

    def start(self) -> None:
        """Queue what a previous run left unfinished, then start working."""
        with self.sessions() as session:
            unfinished = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
            pending = select(Job.id).where(Job.status.in_(unfinished)).order_by(Job.id)
            for job_id in session.scalars(pending):
                self._queue.put(job_id)
        self._thread.start()

    def submit(self, job_id: int) -> None:
        self._queue.put(job_id)

    def close(self) -> None:
        """Stop after the current frame; an interrupted job is queued again for the next start."""
        self._closing.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(30.0)

    def _loop(self) -> None:
        while (job_id := self._queue.get()) is not None and not self._closing.is_set():
            try:
                self.run(job_id)
            except Exception:  # never let one job stop the runner
                log.exception("job %d: runner error", job_id)

    def run(self, job_id: int) -> None:
        with self.sessions() as session:
            job = get(session, job_id)
            if job.status in (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value):
                return
            job.status, job.started_at, job.progress = JobStatus.RUNNING.value, utcnow(), 0.0
            session.commit()
            video, gps, source_id = job.video_file, job.gps_file, job.source_id
        log.info("job %d: analysing %s", job_id, video)
        try:
            frames, found = self._analyse(job_id, video, gps, source_id)
        except _InterruptedError:
            self._requeue(job_id)
        except ShirongError as exc:
            self._finish(job_id, JobStatus.FAILED, error=str(exc))
        except Exception as exc:
            self._finish(job_id, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        else:
            self._finish(job_id, JobStatus.SUCCEEDED, frames=frames, incidents=found)

    def _analyse(self, job_id: int, video: str, gps: str | None, source_id: str) -> tuple[int, int]:
        taxonomy = self.analysis.taxonomy
        config = self.analysis.config(moving_config(taxonomy, source_id, min_frames=None))
        path = self.folder / video
        duration = _duration_s(path)
        track = load_track_or_warn(self.folder / gps, tz=config.tz) if gps else None
        start = track.guessed_video_start if track and not track.has_offsets else None
        opts = {"start_time": start} if start else {}
        source: FrameSource = open_source(str(path), fps=self.fps, source_id=source_id, **opts)
        try:
            self.analysis.detector.check()
        except BaseException:
            source.close()
            raise
        progress = _Progress(self.sessions, job_id, duration)

        def on_frame(frame: Frame) -> None:
            progress(frame)
            if self._closing.is_set():
                source.close()  # the watch loop ends after this frame

        with source:
            summary, sink = self.analysis.run(
                source,
                config,
                fps=self.fps,
                locate=Locator(track, source, config),
                on_frame=on_frame,
            )
        if self._closing.is_set():
            raise _InterruptedError
        if summary.frames and summary.failed_frames == summary.frames:
            raise ShirongError(f"every one of {summary.frames} frames failed to analyse")
        return summary.frames, len(sink)

    def _requeue(self, job_id: int) -> None:
        log.info("job %d interrupted by shutdown; queued for the next start", job_id)
        values = {"status": JobStatus.QUEUED.value, "progress": 0.0, "started_at": None}
        with self.sessions() as session:
            session.execute(update(Job).where(Job.id == job_id).values(**values))
            session.commit()

    def _finish(
        self, job_id: int, status: JobStatus, error: str | None = None, **counts: int
    ) -> None:
        log.log(
            logging.WARNING if error else logging.INFO,
            "job %d %s%s",
            job_id,
            status.value,
            f": {error}" if error else "",
        )
        values: dict[str, object] = {"status": status.value, "finished_at": utcnow(), **counts}
        if status is JobStatus.SUCCEEDED:
            values["progress"] = 1.0
        if error is not None:
            values["error"] = error[:2000]
        with self.sessions() as session:
            session.execute(update(Job).where(Job.id == job_id).values(**values))
            session.commit()


class _InterruptedError(Exception):
    """The service is stopping in the middle of a job."""


class _Progress:
    """Writes frames and progress (pts / duration) to the job row about once a second."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int, duration_s: float) -> None:
        self.sessions = sessions
        self.job_id = job_id
        self.duration_s = duration_s
        self.frames = 0
        self._last = time.monotonic()

    def __call__(self, frame: Frame) -> None:
        self.frames += 1
        now = time.monotonic()
        if now - self._last < _PROGRESS_EVERY_S:
            return
        self._last = now
        done = min(0.99, frame.meta.pts / self.duration_s) if self.duration_s > 0 else 0.0
        with self.sessions() as session:
            values = {"progress": done, "frames": self.frames}
            session.execute(update(Job).where(Job.id == self.job_id).values(**values))
            session.commit()


def _duration_s(path: Path) -> float:
    """Container duration, 0 where unknown (progress then stays 0 until the end)."""
    cap = cv2.VideoCapture(str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS)
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        return float(count / fps) if fps > 0 and count > 0 else 0.0
    finally:
        cap.release()
