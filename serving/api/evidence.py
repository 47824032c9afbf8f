"""Photo upload (evidence, after-photos) and download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from serving import metrics
from serving.api.deps import ServicesDep, SessionDep, require
from serving.db.models import User, UserRole
from serving.schemas.evidence import BlobOut
from serving.services.errors import ServiceError

router = APIRouter(prefix="/evidence", tags=["evidence"])

AnyUser = Annotated[User, Depends(require(*UserRole))]
Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
MULTIPART_SLACK = 64 * 1024  # room for multipart headers around the file itself

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "",
    response_model=BlobOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_BODY,
    responses={
        200: {"description": "These bytes were already stored; the existing record."},
        413: {"description": "Too many bytes or pixels."},
        415: {"description": "Not a JPEG, PNG or WebP (judged by content)."},
        422: {"description": "Missing file or an image that cannot be decoded."},
    },
)
async def upload(
    request: Request, response: Response, user: AnyUser, services: ServicesDep, session: SessionDep
) -> BlobOut:
    """Store a photo (multipart field ``file``) under its SHA-256; the same bytes → same record."""
    limit = services.settings.upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        metrics.UPLOADS.labels(result="rejected").inc()
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"upload exceeds {limit} bytes")
    data = await _read_file_field(request, limit)
    try:
        blob, created = await run_in_threadpool(
            services.store.save,
            session,
            data,
            user,
            limit,
            services.settings.upload_max_pixels,
        )
    except ServiceError:
        metrics.UPLOADS.labels(result="rejected").inc()
        raise
    metrics.UPLOADS.labels(result="stored" if created else "duplicate").inc()
    if not created:
        response.status_code = status.HTTP_200_OK
    return BlobOut.model_validate(blob)


async def _read_file_field(request: Request, limit: int) -> bytes:
    form = await request.form(max_files=1, max_fields=1)  # malformed multipart → 400
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "multipart field 'file' (a file) is required"
        )
    data = await upload.read(limit + 1)
    await form.close()
    if len(data) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"file is over {limit} bytes; the limit is {limit} bytes",
        )
    return data


@router.get("/{sha256}", response_class=FileResponse)
def download(
    sha256: Sha256Path, _: AnyUser, services: ServicesDep, session: SessionDep
) -> FileResponse:
    path, media_type = services.store.open_path(session, sha256)
    return FileResponse(path, media_type=media_type)
