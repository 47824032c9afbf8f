"""Photo ingest: a camera snapshot or a patrol photo (with EXIF GPS) → stored photo → incidents.

A photo is one frame of a moving camera: rules count frames (one is enough) and parts of the image
no zone covers count as public space. Its source id and its time (EXIF, else when the bytes were
first stored) come from the stored photo, so the rules engine's deterministic incident ids make the
same bytes give the same incidents, however often they are posted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from detection.capture import open_source
from detection.core import GeoPoint
from detection.pipeline import Locator
from serving.config import Settings
from serving.db.models import Blob, Incident, User
from serving.services.analysis import Analysis, check_model, moving_config
from serving.services.evidence import BlobStore


@dataclass(frozen=True)
class PhotoResult:
    blob: Blob
    created: bool
    location: GeoPoint | None
    incidents: list[Incident]


@dataclass(frozen=True)
class Analysed:
    """What a worker found in a stored photo (plain values: it crosses a process boundary)."""

    incident_ids: list[int]
    location: GeoPoint | None


#: Runs ``analyse_stored`` somewhere (a worker process, a Ray task) for (sha256, stored_at).
Analyser = Callable[[str, datetime], Analysed]


def ingest_photo(
    session: Session,
    store: BlobStore,
    analyse: Analyser,
    settings: Settings,
    user: User,
    data: bytes,
) -> PhotoResult:
    """Check and store the photo (413/415/422 as ``POST /evidence``), then have a worker run the
    rules on it; the incidents it stored come back."""
    checked = store.check(data, settings.upload_max_bytes, settings.upload_max_pixels)
    check_model(settings.model_path)
    blob, created = store.store(session, data, checked, user)
    found = analyse(blob.sha256, blob.created_at)
    incidents = list(
        session.scalars(
            select(Incident).where(Incident.id.in_(found.incident_ids)).order_by(Incident.id)
        )
    )
    return PhotoResult(blob, created, found.location, incidents)


def analyse_stored(
    store: BlobStore, analysis: Analysis, settings: Settings, sha256: str, stored_at: datetime
) -> Analysed:
    """Detector + rules on a stored photo, in the worker; ModelError when there is no model.

    The photo is decoded reduced to ``photo_decode_side``; the pixels live from the decode to
    the end of the analysis (frame, detector input, evidence images), under one decode slot.
    """
    analysis.detector.check()
    source_id = f"photo-{sha256[:16]}"
    config = analysis.config(moving_config(analysis.taxonomy, source_id, min_frames=1))
    located: list[GeoPoint | None] = []
    with (
        store.decoding(),
        open_source(
            str(store.files.path(sha256)),
            source_id=source_id,
            start_time=stored_at,
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
    return Analysed(sorted(set(sink.ids.values())), located[0] if located else None)
