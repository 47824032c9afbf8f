"""The FastAPI application: ``create_app(settings)`` wires storage, services, routes, worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial

import httpx
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from sqlalchemy.exc import DataError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from detection.taxonomy import default_taxonomy
from serving.api import (
    auth,
    cameras,
    corrections,
    dispatch,
    docs,
    evidence,
    incidents,
    ingest,
    reports,
    retention,
    squads,
    system,
    tickets,
    ui,
    users,
)
from serving.api.deps import Services
from serving.api.limits import BodyLimit
from serving.api.proxies import ForwardedForCheck, UntrustedForwarders
from serving.api.security_headers import SecurityHeaders
from serving.config import Settings, load_settings
from serving.db.session import make_engine, make_session_factory
from serving.migrations import upgrade
from serving.services import cameras as camera_rows
from serving.services.analysis import Analysis
from serving.services.auth import Passwords
from serving.services.concurrency import PeriodicWorker
from serving.services.errors import (
    Code,
    Param,
    RateLimitedError,
    ServiceError,
    UnauthorizedError,
    redact_paths,
)
from serving.services.evidence import BlobStore
from serving.services.outbox import deliver_due
from serving.services.read_cache import ReadCache, WriteCounter
from serving.services.recurrence import Recurrence
from serving.services.retention import scheduled_run
from serving.workers.backends import open_backend
from serving.workers.cameras import CameraManager
from serving.workers.context import mark_store
from serving.workers.handles import Backend
from serving.workers.jobs import JobRunner

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    services = Services(
        settings=settings,
        sessions=sessions,
        passwords=Passwords(settings),
        taxonomy=default_taxonomy(),
        store=BlobStore(
            settings.evidence_root, settings.decode_concurrency, settings.decode_wait_s
        ),
        reads=ReadCache(WriteCounter(sessions)),
    )
    analysis = Analysis(
        services.sessions,
        services.taxonomy,
        lambda: services.store.files,
        settings.model_path,
        Recurrence.of(settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(upgrade, settings.database_url)
        worker = None
        client = httpx.Client()
        if settings.dispatch_worker:
            deliver = partial(deliver_due, services.sessions, settings, client)
            worker = PeriodicWorker("dispatch", deliver, settings.dispatch_poll_s)
            worker.start()
        # Stale temp files and expired videos and evidence: at start-up, then on a schedule.
        sweeper = None
        if settings.retention_worker:
            sweep = partial(scheduled_run, services.sessions, settings, services.taxonomy)
            sweeper = PeriodicWorker("retention", sweep, settings.retention_interval_s)
            sweeper.start()
        backend = await run_in_threadpool(open_backend, settings)
        camera_manager, job_runner = await run_in_threadpool(
            _start_analysis, services, analysis, backend
        )
        app.state.backend, app.state.cameras, app.state.jobs = backend, camera_manager, job_runner
        log.info("shirong service ready (database %s)", engine.url.render_as_string())
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)
            if sweeper is not None:
                await run_in_threadpool(sweeper.stop)
            await run_in_threadpool(camera_manager.close)
            await run_in_threadpool(job_runner.close)
            await run_in_threadpool(backend.close)
            client.close()
            engine.dispose()

    app = FastAPI(
        title="Shirong ticket service",
        summary="Six-standards incidents → review → tickets → dispatch → reports.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by serving.api.docs from the origin's own copies
        redoc_url=None,
    )
    app.state.services = services
    app.state.analysis = analysis
    app.add_middleware(BodyLimit, settings=settings)
    app.state.forwarders = UntrustedForwarders(settings.trusted_proxies)
    app.add_middleware(ForwardedForCheck, forwarders=app.state.forwarders)
    app.add_middleware(SecurityHeaders)  # outermost of ours: on BodyLimit's 413s too
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(ServiceError, _service_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data_error)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity_error)  # type: ignore[arg-type]
    for module in (system, auth, users, squads, incidents, tickets, evidence, dispatch, reports):
        app.include_router(module.router)
    app.include_router(cameras.router)
    app.include_router(ingest.router)
    app.include_router(corrections.router)
    app.include_router(retention.router)
    ui.mount(app)
    docs.mount(app)
    return app


def _start_analysis(
    services: Services, analysis: Analysis, backend: Backend
) -> tuple[CameraManager, JobRunner]:
    """Watch every enabled camera and resume unfinished video jobs, in worker processes."""
    settings = services.settings
    mark_store(settings.evidence_root)
    manager = CameraManager(
        services.sessions, analysis, backend, settings, enabled=settings.camera_workers
    )
    with services.sessions() as session:
        manager.start(camera_rows.enabled(session))
    runner = JobRunner(services.sessions, backend, settings)
    runner.start()
    return manager, runner


# The code of an HTTPException raised without one (the router's 404 and 405, a route's 413).
_STATUS_CODES = {
    400: Code.BAD_REQUEST,
    401: Code.NOT_AUTHENTICATED,
    403: Code.FORBIDDEN,
    404: Code.NOT_FOUND,
    409: Code.CONFLICT,
    413: Code.TOO_LARGE,
    415: Code.UNSUPPORTED_TYPE,
    422: Code.INVALID,
}


def _error(
    status_code: int,
    message: str,
    code: Code,
    params: Mapping[str, Param] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Every error body: the English ``detail``, ``code`` and ``params`` (clients translate
    these); a 422's ``detail`` in the list form the OpenAPI schema publishes for every 422
    (``HTTPValidationError``)."""
    detail = [{"loc": [], "msg": message, "type": "value_error"}] if status_code == 422 else message
    body = {"detail": detail, "code": code, "params": dict(params or {})}
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """A route's or the router's HTTPException, answered as every error is (``_error``).

    A 5xx message may be an exception's (``ModelError`` names the missing model file).
    """
    if not isinstance(exc.detail, str) or not is_body_allowed_for_status_code(exc.status_code):
        return await http_exception_handler(request, exc)
    server = exc.status_code >= 500
    code = _STATUS_CODES.get(exc.status_code, Code.SERVER_ERROR if server else Code.HTTP_ERROR)
    detail = redact_paths(exc.detail) if server else exc.detail  # 4xx: the routes' own texts
    return _error(exc.status_code, detail, code, headers=exc.headers)


async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
    """A service's error; its message and parameters may quote a library's exception (a decoder
    naming a file by its server path), so paths are cut to their last part."""
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, UnauthorizedError):
        headers["WWW-Authenticate"] = "Bearer"
    params = {k: redact_paths(v) if isinstance(v, str) else v for k, v in exc.params.items()}
    return _error(exc.status_code, redact_paths(exc.message), exc.code, params, headers)


async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own list of errors, with the code and the fields they are about."""
    errors = jsonable_encoder(exc.errors())
    fields = [".".join(str(p) for p in e["loc"][1:] or e["loc"]) for e in errors]
    params = {"fields": list(dict.fromkeys(fields))}
    body = {"detail": errors, "code": Code.REQUEST_INVALID, "params": params}
    return JSONResponse(body, status_code=422)


async def _data_error(_: Request, exc: DataError) -> JSONResponse:
    """A value the database cannot hold (out of range, NUL byte) is the client's error, not ours."""
    log.info("refused a value the database cannot store: %s", exc.orig)
    return _error(422, "a value is out of range or not storable", Code.VALUE_UNSTORABLE)


async def _integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
    """Services check constraints first; this catches the race two concurrent requests can run."""
    log.info("integrity error: %s", exc.orig)
    return _error(409, "conflicts with existing data; retry", Code.CONCURRENT_CHANGE)
