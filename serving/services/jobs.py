"""Dashcam videos: stored on upload, analysed in a worker process, tracked as jobs.

A job goes queued → running → succeeded | partial | failed. A corrupt video or GPS track fails its
own job with the reason (``JobAnalysis``, inside the worker); a worker that dies mid-way is the
dispatcher's business (``serving.workers.jobs``: started again, then failed naming the cause).
A video whose frames end well before its container's duration (truncated, or corrupt from some
point on) is ``partial``: its incidents stay, and the job says how far it got. Jobs left running
by a stopped service are queued again at start-up (analysis is idempotent: incident ids are
deterministic).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from detection.capture import FrameSource, open_source, video_header
from detection.core import Frame
from detection.errors import ShirongError
from detection.geo import load_track_or_warn
from detection.pipeline import Locator
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import Job, JobStatus, User
from serving.services.analysis import Analysis, moving_config
from serving.services.errors import (
    NotFoundError,
    TooLargeError,
    UnsupportedTypeError,
    redact_paths,
)

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".ts", ".webm"})
GPS_SUFFIXES = frozenset({".gpx", ".nmea", ".txt", ".srt", ".log"})
GPS_MAX_BYTES = 50 * 1024 * 1024
_CHUNK = 1 << 20
_PROGRESS_EVERY_S = 1.0
# A whole video's last analysed frame lies within a frame interval or two of the container's end;
# one that stops before ``duration - max(1 s, 2 intervals)`` did not reach it.
_END_TOLERANCE_S = 1.0
_END_TOLERANCE_FRAMES = 2
_DONE = frozenset({JobStatus.SUCCEEDED.value, JobStatus.PARTIAL.value, JobStatus.FAILED.value})
PENDING = frozenset({JobStatus.QUEUED.value, JobStatus.RUNNING.value})
_CREATE_LOCK = threading.Lock()  # see create()


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
) -> tuple[Job, bool]:
    """The job for these video (and track) bytes, and whether it was queued now.

    The same bytes are analysed once: a job that exists is returned as it stands, except a failed
    one, which is queued again (uploading again is how a client retries, e.g. once a model is
    installed). The lock makes look-up and insert one step for concurrent uploads; it suffices
    because one service process takes the uploads (workers only run the jobs).
    """
    with _CREATE_LOCK:
        job = _job_for(session, video_file, gps_file)
        if job is None:
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
        elif job.status == JobStatus.FAILED.value:
            job.status, job.error = JobStatus.QUEUED.value, None
            job.progress, job.frames, job.incidents = 0.0, 0, 0
            job.started_at = job.finished_at = None
        else:
            return job, False
        session.commit()
        return job, True


def _job_for(session: Session, video_file: str, gps_file: str | None) -> Job | None:
    """The first job of these stored files (both named by their SHA-256)."""
    same = (Job.video_file == video_file) & Job.gps_file.is_not_distinct_from(gps_file)
    return session.scalars(select(Job).where(same).order_by(Job.id).limit(1)).first()


def get(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    return job


def video_folder(settings: Settings) -> Path:
    """Where uploaded videos and tracks are stored (inside the evidence store every node sees)."""
    return settings.evidence_root / "videos"


def unfinished(session: Session) -> list[int]:
    """Jobs a stopped service left queued or running, oldest first (they run again)."""
    states = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
    return list(session.scalars(select(Job.id).where(Job.status.in_(states)).order_by(Job.id)))


def status_of(session: Session, job_id: int) -> str | None:
    job = session.get(Job, job_id)
    return None if job is None else job.status


def fail(sessions: sessionmaker[Session], job_id: int, error: str) -> None:
    """Fail a job from outside its worker (the worker died); a job already ended is left."""
    with sessions() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.not_in(_DONE))
            .values(status=JobStatus.FAILED.value, error=error[:2000], finished_at=utcnow())
        )
        session.commit()


def requeue(sessions: sessionmaker[Session], job_id: int) -> None:
    """Queue a job again whose worker was stopped or died mid-way (analysis is idempotent)."""
    with sessions() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.not_in(_DONE))
            .values(status=JobStatus.QUEUED.value, progress=0.0, frames=0, started_at=None)
        )
        session.commit()


def analyse(
    sessions: sessionmaker[Session],
    analysis: Analysis,
    folder: Path,
    fps: float,
    job_id: int,
    stop: threading.Event,
) -> None:
    """Run one job to succeeded, partial or failed; ``stop`` set mid-way queues it again."""
    JobAnalysis(sessions, analysis, folder, fps, stop).run(job_id)


class JobAnalysis:
    """One job's analysis, run inside a worker process (``serving.workers.jobs`` dispatches)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        analysis: Analysis,
        folder: Path,
        fps: float,
        stop: threading.Event,
    ) -> None:
        self.sessions = sessions
        self.analysis = analysis
        self.folder = folder
        self.fps = fps
        self._closing = stop

    def run(self, job_id: int) -> None:
        with self.sessions() as session:
            job = get(session, job_id)
            if job.status in _DONE:
                return
            job.status, job.started_at, job.progress = JobStatus.RUNNING.value, utcnow(), 0.0
            job.analysed_s = None
            session.commit()
            video, gps, source_id = job.video_file, job.gps_file, job.source_id
            name = job.video_name
        log.info("job %d: analysing %s", job_id, video)
        try:
            outcome = self._analyse(job_id, video, gps, source_id)
        except _InterruptedError:
            self._requeue(job_id)
        except ShirongError as exc:
            self._fail(job_id, str(exc), video, name)
        except Exception as exc:
            self._fail(job_id, f"{type(exc).__name__}: {exc}", video, name)
        else:
            self._complete(job_id, outcome)

    def _analyse(self, job_id: int, video: str, gps: str | None, source_id: str) -> _Outcome:
        taxonomy = self.analysis.taxonomy
        config = self.analysis.config(moving_config(taxonomy, source_id, min_frames=None))
        path = self.folder / video
        coverage = Coverage.probe(path, self.fps)
        self._update(
            job_id, duration_s=coverage.duration_s, expected_frames=coverage.expected_frames
        )
        track = load_track_or_warn(self.folder / gps, tz=config.tz) if gps else None
        start = track.guessed_video_start if track and not track.has_offsets else None
        opts = {"start_time": start} if start else {}
        source: FrameSource = open_source(str(path), fps=self.fps, source_id=source_id, **opts)
        try:
            self.analysis.detector.check()
        except BaseException:
            source.close()
            raise
        progress = _Progress(self.sessions, job_id, coverage)

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
        return _Outcome(summary.frames, len(sink), progress.pts, coverage)

    def _complete(self, job_id: int, outcome: _Outcome) -> None:
        """Succeeded if the frames reached the video's end; partial (with the reason) if not."""
        reason = outcome.coverage.shortfall(outcome.analysed_s)
        if reason is None:
            found = outcome.incidents
            log.info("job %d succeeded: %d frames, %d incidents", job_id, outcome.frames, found)
            status, done = JobStatus.SUCCEEDED, 1.0
        else:
            log.warning("job %d partial: %s", job_id, reason)
            status, done = JobStatus.PARTIAL, outcome.coverage.progress(outcome.analysed_s)
        self._finish(
            job_id,
            status,
            error=reason,
            progress=done,
            frames=outcome.frames,
            incidents=outcome.incidents,
            analysed_s=outcome.analysed_s,
        )

    def _requeue(self, job_id: int) -> None:
        log.info("job %d interrupted by shutdown; queued for the next start", job_id)
        requeue(self.sessions, job_id)

    def _fail(self, job_id: int, error: str, video: str, video_name: str) -> None:
        """Fail the job; the log keeps ``error`` whole, the row clients read has no server path.

        The stored video is named as the client named it; other paths are cut to their file name.
        """
        log.warning("job %d failed: %s", job_id, error)
        shown = redact_paths(error.replace(str(self.folder / video), video_name))
        self._finish(job_id, JobStatus.FAILED, error=shown)

    def _finish(
        self, job_id: int, status: JobStatus, error: str | None = None, **values: object
    ) -> None:
        if error is not None:
            values["error"] = error[:2000]
        self._update(job_id, status=status.value, finished_at=utcnow(), **values)

    def _update(self, job_id: int, **values: object) -> None:
        with self.sessions() as session:
            session.execute(update(Job).where(Job.id == job_id).values(**values))
            session.commit()


class _InterruptedError(Exception):
    """The service is stopping in the middle of a job."""


@dataclass(frozen=True)
class Coverage:
    """A video's duration by its container, against which the analysed frames are judged.

    The duration is the video stream's frame count over its frame rate, as OpenCV reads them from
    the container header: a faststart mp4 cut short keeps the header of the whole video, so its
    frames end early (partial). An mp4 whose header sat at the cut-off end does not open (failed).
    Where the container gives no count (some streams), nothing is judged: the job succeeds.
    """

    duration_s: float | None
    interval_s: float  # between analysed frames: the sampling interval or the native, the longer

    @classmethod
    def probe(cls, path: Path, fps: float) -> Coverage:
        native, count = video_header(path)
        interval = max(1.0 / fps, 1.0 / native) if native > 0 else 1.0 / fps
        return cls(count / native if native > 0 and count > 0 else None, interval)

    @property
    def expected_frames(self) -> int | None:
        return None if self.duration_s is None else round(self.duration_s / self.interval_s)

    def progress(self, pts: float) -> float:
        """Share of the duration up to ``pts``, below 1 until the job ends (0 if unknown)."""
        return min(0.99, pts / self.duration_s) if self.duration_s else 0.0

    def shortfall(self, analysed_s: float) -> str | None:
        """Why frames that ended at ``analysed_s`` s fall short of the video; None if they don't."""
        if self.duration_s is None:
            return None
        tolerance = max(_END_TOLERANCE_S, _END_TOLERANCE_FRAMES * self.interval_s)
        if analysed_s >= self.duration_s - tolerance:
            return None
        return (
            f"video ended at {analysed_s:.1f} s of {self.duration_s:.1f} s: "
            "the file is truncated or corrupt after that point"
        )


class _Outcome(NamedTuple):
    frames: int
    incidents: int
    analysed_s: float  # pts of the last frame analysed
    coverage: Coverage


class _Progress:
    """Follows the analysed frames; writes frames, pts and progress to the row once a second."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int, coverage: Coverage) -> None:
        self.sessions = sessions
        self.job_id = job_id
        self.coverage = coverage
        self.frames = 0
        self.pts = 0.0
        self._last = time.monotonic()

    def __call__(self, frame: Frame) -> None:
        self.frames += 1
        self.pts = frame.meta.pts
        now = time.monotonic()
        if now - self._last < _PROGRESS_EVERY_S:
            return
        self._last = now
        values = {
            "progress": self.coverage.progress(self.pts),
            "frames": self.frames,
            "analysed_s": self.pts,
        }
        with self.sessions() as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(**values))
            session.commit()
