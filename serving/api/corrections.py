"""Reviewer corrections as a training dataset (YOLO, COCO or Label Studio zip)."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from serving.api.deps import ReviewerUser, ServicesDep, SessionDep
from serving.services.corrections import ExportFormat, collect, export_zip
from serving.services.ticket_view import LOCAL_TZ

router = APIRouter(prefix="/corrections", tags=["corrections"])


@router.get(
    "/export",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The dataset zip."}},
)
def export(
    _: ReviewerUser, services: ServicesDep, session: SessionDep, format: ExportFormat
) -> FileResponse:
    """Reviewed frames with corrected boxes; rejected false positives as empty-label negatives."""
    corrections = collect(session, services.store, services.taxonomy)
    with tempfile.NamedTemporaryFile(suffix=".zip", delete=False) as out:
        try:
            export_zip(corrections, services.taxonomy, format, out)
        except BaseException:
            os.unlink(out.name)
            raise
    stamp = datetime.now(LOCAL_TZ).strftime("%Y%m%d-%H%M")
    return FileResponse(
        out.name,
        media_type="application/zip",
        filename=f"shirong-corrections-{format.value}-{stamp}.zip",
        background=BackgroundTask(os.unlink, out.name),
    )
