"""Photo upload (evidence, after-photos) and download, with a login or by a signed link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from serving import metrics
from serving.api.deps import Services, ServicesDep, SessionDep, require
from serving.db.base import utcnow
from serving.db.models import User, UserRole
from serving.schemas.evidence import BlobOut
from serving.services import links
from serving.services.errors import ServiceError

router = APIRouter(prefix="/evidence", tags=["evidence"])

AnyUser = Annotated[User, Depends(require(*UserRole))]
Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
# Uploaded bytes are served as what they were stored as, never as a page or a script.
SERVED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}

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
    limit = services.settings.upload_max_bytes  # the body is capped while read (api.limits)
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
    """The stored bytes with their stored media type; the browser may not sniff another type
    from them, nor run anything inside them (``SERVED_HEADERS``)."""
    return _served(services, session, sha256)


@router.get(
    "/{sha256}/signed",
    response_class=FileResponse,
    responses={
        403: {"description": "The link expired, or its file, exp or sig was altered."},
        404: {"description": "No such file (any more)."},
    },
)
def signed_download(
    sha256: Sha256Path,
    exp: Annotated[str, Query(description="Expiry in Unix seconds, as the link has it.")],
    sig: Annotated[str, Query(description="The link's signature.")],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    """One file without a login, as webhook messages and daily reports link it
    (``services.links``), served as ``GET /evidence/{sha256}`` serves it. A browser whose link
    no longer opens gets a page saying why, in Chinese and English."""
    try:
        links.check(services.settings, sha256, exp, sig, utcnow())
        return _served(services, session, sha256)
    except ServiceError as exc:
        if "text/html" not in request.headers.get("accept", ""):
            raise
        return HTMLResponse(links.error_page(exc), exc.status_code, headers=SERVED_HEADERS)


def _served(services: Services, session: Session, sha256: str) -> FileResponse:
    path, media_type = services.store.open_path(session, sha256)
    return FileResponse(path, media_type=media_type, headers=SERVED_HEADERS)
