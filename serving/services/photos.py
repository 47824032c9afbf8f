"""Photo ingest: a camera snapshot or a patrol photo (with EXIF GPS) → stored photo → incidents.

A photo is one frame of a moving camera: rules count frames (one is enough) and parts of the image
no zone covers count as public space. Its source id and its time (EXIF, else when the bytes were
first stored) come from the stored photo, so the rules engine's deterministic incident ids make the
same bytes give the same incidents, however often they are posted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from detection.capture import open_source
from detection.core import GeoPoint
from detection.pipeline import Locator
from serving.config import Settings
from serving.db.models import Blob, Incident, User
from serving.services.analysis import Analysis, moving_config
from serving.services.evidence import BlobStore


@dataclass(frozen=True)
class PhotoResult:
    blob: Blob
    created: bool
    location: GeoPoint | None
    incidents: list[Incident]


def ingest_photo(
    session: Session,
    store: BlobStore,
    analysis: Analysis,
    settings: Settings,
    user: User,
    data: bytes,
) -> PhotoResult:
    """Check and store the photo (413/415/422 as ``POST /evidence``), then run the rules on it.

    The photo is decoded once to check it and once, reduced to ``photo_decode_side``, for the
    analysis; each holds a decode slot, so concurrent ingests share the uploads' decode budget.
    """
    checked = store.check(data, settings.upload_max_bytes, settings.upload_max_pixels)
    analysis.detector.check()  # 503 before storing anything when there is no model
    blob, created = store.store(session, data, checked, user)
    source_id = f"photo-{blob.sha256[:16]}"
    config = analysis.config(moving_config(analysis.taxonomy, source_id, min_frames=1))
    path = store.files.path(blob.sha256)
    located: list[GeoPoint | None] = []
    # The pixels live from the decode (when the source opens) to the end of the analysis (frame,
    # detector input, evidence images): all of it holds one decode slot.
    with (
        store.decoding(),
        open_source(
            str(path),
            source_id=source_id,
            start_time=blob.created_at,
            min_side=settings.photo_decode_side or None,
        ) as source,
    ):
        _, sink = analysis.run(
            source,
            config,
            fps=1.0,
            locate=Locator(None, source, config),
            on_frame=lambda frame: located.append(frame.meta.gps),
        )
    ids = sorted(sink.ids.values())
    found = list(
        session.scalars(select(Incident).where(Incident.id.in_(ids)).order_by(Incident.id))
    )
    return PhotoResult(blob, created, located[0] if located else None, found)
