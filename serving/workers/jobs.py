"""The dashcam job dispatcher: one thread in the service that starts each queued job in a worker
process (or Ray task) and watches it, so a video that crashes its decoder takes down a worker,
never the API. A worker that dies mid-way (killed, out of memory, its node lost) is started again
up to ``job_max_attempts`` times, then the job fails naming the cause: never left ``running``."""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from serving.config import Settings
from serving.services import jobs
from serving.workers.handles import Backend

log = logging.getLogger(__name__)

_POLL_S = 0.5


class JobRunner:
    """Runs queued jobs one at a time (each uses every core), in order."""

    def __init__(
        self, sessions: sessionmaker[Session], backend: Backend, settings: Settings
    ) -> None:
        self.sessions = sessions
        self.backend = backend
        self.attempts = settings.job_max_attempts
        self.folder: Path = jobs.video_folder(settings)
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="video-jobs", daemon=True)

    def start(self) -> None:
        """Queue what a previous run left unfinished, then start working."""
        with self.sessions() as session:
            for job_id in jobs.unfinished(session):
                self._queue.put(job_id)
        self._thread.start()

    def submit(self, job_id: int) -> None:
        self._queue.put(job_id)

    def close(self) -> None:
        """Interrupt the current job (queued again for the next start) and stop."""
        self._closing.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(60.0)

    def _loop(self) -> None:
        while (job_id := self._queue.get()) is not None and not self._closing.is_set():
            try:
                self.run(job_id)
            except Exception:  # never let one job stop the runner
                log.exception("job %d: dispatcher error", job_id)
                jobs.fail(self.sessions, job_id, "internal error while dispatching the job")

    def run(self, job_id: int) -> None:
        """Run the job in workers until it ends by itself, or its attempts are used up."""
        for attempt in range(1, self.attempts + 1):
            if self._closing.is_set():
                return
            died = self._attempt(job_id)
            if died is None:
                return
            log.warning("job %d: attempt %d of %d: %s", job_id, attempt, self.attempts, died)
            if attempt < self.attempts:
                jobs.requeue(self.sessions, job_id)
        jobs.fail(
            self.sessions,
            job_id,
            f"{died}, {self.attempts} time(s); the video may crash the decoder or need more "
            "memory than a worker has",
        )

    def _attempt(self, job_id: int) -> str | None:
        """One worker on the job; why it died, or None if it ended by itself."""
        with self.sessions() as session:
            if jobs.status_of(session, job_id) not in jobs.PENDING:
                return None  # done meanwhile (or deleted)
        handle = self.backend.start_job(job_id)
        while not handle.wait(_POLL_S):
            if self._closing.is_set():
                handle.stop()  # the worker queues its job again
                jobs.requeue(self.sessions, job_id)
                return None
        died = handle.died()
        if died is not None:
            with self.sessions() as session:
                if jobs.status_of(session, job_id) not in jobs.PENDING:
                    return None  # it finished, then its process failed on the way out
        return died
