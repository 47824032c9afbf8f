"""The FastAPI application: ``create_app(settings)`` wires storage, services, routes, worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.concurrency import run_in_threadpool

from detection.taxonomy import default_taxonomy
from serving.api import (
    auth,
    cameras,
    corrections,
    dispatch,
    evidence,
    incidents,
    ingest,
    reports,
    squads,
    system,
    tickets,
    ui,
    users,
)
from serving.api.deps import Services
from serving.config import Settings, load_settings
from serving.db.session import make_engine, make_session_factory
from serving.migrations import upgrade
from serving.services import cameras as camera_rows
from serving.services.auth import Passwords
from serving.services.errors import RateLimitedError, ServiceError
from serving.services.evidence import BlobStore
from serving.services.jobs import JobRunner
from serving.services.outbox import DeliveryWorker, deliver_due
from serving.workers.analysis import Analysis
from serving.workers.cameras import CameraManager

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    services = Services(
        settings=settings,
        sessions=make_session_factory(engine),
        passwords=Passwords(settings),
        taxonomy=default_taxonomy(),
        store=BlobStore(settings.evidence_root),
    )
    analysis = Analysis(
        services.sessions, services.taxonomy, lambda: services.store.files, settings.model_path
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(upgrade, settings.database_url)
        worker = None
        client = httpx.Client()
        if settings.dispatch_worker:
            deliver = partial(deliver_due, services.sessions, settings, client)
            worker = DeliveryWorker(deliver, settings.dispatch_poll_s)
            worker.start()
        camera_manager, job_runner = await run_in_threadpool(_start_analysis, services, analysis)
        app.state.cameras, app.state.jobs = camera_manager, job_runner
        log.info("shirong service ready (database %s)", engine.url.render_as_string())
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)
            await run_in_threadpool(camera_manager.close)
            await run_in_threadpool(job_runner.close)
            client.close()
            engine.dispose()

    app = FastAPI(
        title="Shirong ticket service",
        summary="Six-standards incidents → review → tickets → dispatch → reports.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.analysis = analysis
    app.add_exception_handler(ServiceError, _service_error)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data_error)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity_error)  # type: ignore[arg-type]
    for module in (system, auth, users, squads, incidents, tickets, evidence, dispatch, reports):
        app.include_router(module.router)
    app.include_router(cameras.router)
    app.include_router(ingest.router)
    app.include_router(corrections.router)
    ui.mount(app)
    return app


def _start_analysis(services: Services, analysis: Analysis) -> tuple[CameraManager, JobRunner]:
    """Watch every enabled camera and resume unfinished video jobs."""
    settings = services.settings
    manager = CameraManager(
        analysis, settings.camera_fps, settings.camera_restart_s, enabled=settings.camera_workers
    )
    with services.sessions() as session:
        manager.start(camera_rows.enabled(session))
    folder = settings.evidence_root / "videos"
    runner = JobRunner(services.sessions, analysis, folder, settings.video_fps)
    runner.start()
    return manager, runner


async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimitedError) else None
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)


async def _data_error(_: Request, exc: DataError) -> JSONResponse:
    """A value the database cannot hold (out of range, NUL byte) is the client's error, not ours."""
    log.info("refused a value the database cannot store: %s", exc.orig)
    return JSONResponse({"detail": "a value is out of range or not storable"}, status_code=422)


async def _integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
    """Services check constraints first; this catches the race two concurrent requests can run."""
    log.info("integrity error: %s", exc.orig)
    return JSONResponse({"detail": "conflicts with existing data; retry"}, status_code=409)
