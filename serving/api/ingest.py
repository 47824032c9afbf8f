"""Photo and dashcam-video ingest, and the jobs that analyse videos."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from detection.errors import ModelError
from serving import metrics
from serving.api.deps import IdPath, IngestUser, ServicesDep, SessionDep
from serving.schemas.cameras import JobOut, PhotoOut
from serving.schemas.common import Location
from serving.schemas.evidence import BlobOut
from serving.services import incidents, jobs
from serving.services.errors import ServiceError
from serving.services.photos import ingest_photo
from serving.workers.handles import Backend
from serving.workers.jobs import JobRunner

router = APIRouter(tags=["ingest"])

MAX_PHOTOS = 20


def _files_body(fields: dict[str, str]) -> dict[str, object]:
    properties = {
        name: {"type": "string", "format": "binary", "description": d} for name, d in fields.items()
    }
    body = {"type": "object", "required": ["file"], "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": body}}}}


def _backend(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def _files(form: FormData, name: str) -> list[UploadFile]:
    return [f for f in form.getlist(name) if isinstance(f, UploadFile)]


@router.post(
    "/ingest/photos",
    response_model=list[PhotoOut],
    openapi_extra=_files_body(
        {"file": f"A JPEG, PNG or WebP photo (repeat for up to {MAX_PHOTOS})."}
    ),
    responses={
        413: {"description": "Too many bytes or pixels."},
        415: {"description": "Not a JPEG, PNG or WebP (judged by content)."},
        503: {"description": "No detection model is installed."},
    },
)
async def ingest_photos(
    request: Request, user: IngestUser, services: ServicesDep, session: SessionDep
) -> list[PhotoOut]:
    """Store photos (as ``POST /evidence``) and run detector + rules on each → incidents.

    The same bytes posted again give the same photo and the same incidents, not new ones.
    """
    limit = services.settings.upload_max_bytes  # each; the body is capped while read (api.limits)
    form = await request.form(max_files=MAX_PHOTOS, max_fields=MAX_PHOTOS)
    try:
        uploads = _files(form, "file")
        if not uploads:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "multipart field 'file' (a photo) is required",
            )
        results = []
        for upload in uploads:
            data = await upload.read(limit + 1)
            results.append(await _one_photo(request, user, services, session, data))
        return results
    finally:
        await form.close()


async def _one_photo(
    request: Request, user: IngestUser, services: ServicesDep, session: SessionDep, data: bytes
) -> PhotoOut:
    try:
        result = await run_in_threadpool(
            ingest_photo,
            session,
            services.store,
            _backend(request).analyse_photo,
            services.settings,
            user,
            data,
        )
    except ModelError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    except ServiceError:
        metrics.UPLOADS.labels(result="rejected").inc()
        raise
    metrics.UPLOADS.labels(result="stored" if result.created else "duplicate").inc()
    gps = result.location
    return PhotoOut(
        photo=BlobOut.model_validate(result.blob),
        created=result.created,
        location=None if gps is None else Location(lat=gps.lat, lon=gps.lon, heading=gps.heading),
        incidents=incidents.incidents_out(session, result.incidents),
    )


@router.post(
    "/ingest/videos",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_files_body(
        {"file": "The dashcam video.", "gps": "Optional GPS track (GPX, NMEA or SRT)."}
    ),
    responses={
        200: {"description": "These video (and track) bytes already have a job; that job."},
        413: {"description": "Video or track too large."},
        415: {"description": "Unsupported file extension."},
    },
)
async def ingest_video(
    request: Request,
    response: Response,
    user: IngestUser,
    services: ServicesDep,
    session: SessionDep,
) -> JobOut:
    """Store a dashcam video (and its GPS track) and queue a job; poll ``GET /jobs/{id}``.

    The same video and track bytes give the job they already have (200), not a new analysis; a
    failed one is queued again (202).
    """
    settings = services.settings
    form = await request.form(max_files=2, max_fields=2)
    try:
        videos, tracks = _files(form, "file"), _files(form, "gps")
        if len(videos) != 1 or len(tracks) > 1:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "multipart field 'file' (one video) is required; 'gps' (one track) is optional",
            )
        folder = jobs_folder(request)
        video, name = videos[0], videos[0].filename or "video"
        stored = await run_in_threadpool(
            jobs.store_upload,
            video.file,
            name,
            folder,
            jobs.VIDEO_SUFFIXES,
            settings.video_max_bytes,
        )
        gps = None
        if tracks:
            track = tracks[0]
            gps = await run_in_threadpool(
                jobs.store_upload,
                track.file,
                track.filename or "track",
                folder,
                jobs.GPS_SUFFIXES,
                jobs.GPS_MAX_BYTES,
            )
    finally:
        await form.close()
    job, queued = await run_in_threadpool(jobs.create, session, user, stored, name, gps)
    if queued:
        request.app.state.jobs.submit(job.id)
    else:
        response.status_code = status.HTTP_200_OK
    return JobOut.model_validate(job)


def jobs_folder(request: Request) -> Path:
    runner: JobRunner = request.app.state.jobs
    return runner.folder


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: IdPath, _: IngestUser, session: SessionDep) -> JobOut:
    """A video job: status, progress 0..1, frames analysed, incidents found, or why it failed."""
    return JobOut.model_validate(jobs.get(session, job_id))
