"""Entry points that run inside worker processes (local children or Ray workers), and what every
such process does first: die with its parent, and log like the service."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime
from types import FrameType

from detection.errors import StoreError
from serving.config import Settings
from serving.services import jobs, photos
from serving.workers.camera import CameraRun
from serving.workers.context import check_store, context

log = logging.getLogger(__name__)

_ORPHAN_CHECK_S = 1.0


def _die_with_parent() -> None:
    """A local worker must not outlive the service that started it (it would watch its camera
    twice once the service is back). Checked by polling the parent pid: PR_SET_PDEATHSIG would
    fire when the *thread* that started us ends, and request threads come and go."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_ORPHAN_CHECK_S)
        log.warning("the service (pid %d) is gone; this worker ends", parent)
        os._exit(1)

    threading.Thread(target=watch, name="orphan-check", daemon=True).start()


def _stop_on_sigterm() -> threading.Event:
    stop = threading.Event()

    def _term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _term)
    return stop


def _process_start() -> threading.Event:
    _die_with_parent()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(processName)s %(message)s")
    return _stop_on_sigterm()


def camera_process(settings: Settings, camera_id: int) -> None:
    """A local camera worker: watches until SIGTERM (exit 0) or a crash (exit 1)."""
    stop = _process_start()
    ctx = context(settings, threads=settings.camera_threads)
    raise SystemExit(CameraRun(ctx, camera_id, stop).run())


def job_process(settings: Settings, job_id: int) -> None:
    """A local dashcam-job worker: one job, then exit. SIGTERM interrupts it (queued again)."""
    stop = _process_start()
    run_job(settings, job_id, stop)


def run_job(settings: Settings, job_id: int, stop: threading.Event | None = None) -> None:
    """Analyse one job to its end state (stored in its row), in whatever process this is."""
    ctx = context(settings)
    try:
        check_store(settings.evidence_root)
    except StoreError as exc:
        jobs.fail(ctx.sessions, job_id, str(exc))
        return
    folder = jobs.video_folder(settings)
    jobs.analyse(
        ctx.sessions, ctx.analysis, folder, settings.video_fps, job_id, stop or threading.Event()
    )


def photo_init(settings: Settings) -> None:
    """Initialiser of a local photo pool worker: the model loads once per worker."""
    _die_with_parent()
    context(settings)


def analyse_photo(settings: Settings, sha256: str, stored_at: datetime) -> photos.Analysed:
    """Run the rules on a stored photo (in a pool worker or a Ray task)."""
    ctx = context(settings)
    check_store(settings.evidence_root)
    return photos.analyse_stored(ctx.store, ctx.analysis, settings, sha256, stored_at)
