"""What every in-service analysis shares: one lazily loaded detector and a database incident sink.

Cameras, photo uploads and video jobs all run ``detection.rules.cli.watch`` (the loop behind
``shirong watch``); only the source, the rules config and where incidents go differ.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session, sessionmaker

from detection.capture.base import FrameSource
from detection.core import Detections, Frame, GeoPoint
from detection.engine import Detector, load_detector
from detection.evidence import EvidenceStore
from detection.rules.cli import WatchSummary, watch
from detection.rules.config import SourceConfig, ZoneType, source_config
from detection.rules.engine import RulesEngine
from detection.rules.incident import Incident as IncidentRecord
from detection.taxonomy import Taxonomy
from detection.track import ByteTracker, TrackerConfig
from serving import metrics
from serving.services import incidents
from serving.services.errors import InvalidError

log = logging.getLogger(__name__)


class SharedDetector:
    """One model for all workers, loaded on first use (a service without cameras never loads it).

    The confidence floor is the tracker's low threshold: ByteTracker's second stage needs the weak
    boxes and each source's rules filter by their own thresholds afterwards. Calls are serialised:
    ONNX Runtime already uses every core for one image, so parallel calls only add memory.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._detector: Detector | None = None

    def _loaded(self) -> Detector:
        with self._lock:
            if self._detector is None:
                conf = TrackerConfig().low_thresh
                self._detector = load_detector(self.path, conf=conf)
                log.info("detector loaded: %s", self.path or "default model")
            return self._detector

    @property
    def names(self) -> tuple[str, ...]:
        return self._loaded().names

    def predict(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        detector = self._loaded()
        with self._lock:
            return detector.predict(images)

    def __call__(self, image: npt.NDArray[np.uint8]) -> Detections:
        return self.predict([image])[0]

    def check(self) -> None:
        """Load now; raises ModelError naming what is missing (the API answers 503)."""
        self._loaded()


class DatabaseSink:
    """Incident sink that stores each incident state as ``POST /incidents`` does."""

    def __init__(self, sessions: sessionmaker[Session], taxonomy: Taxonomy) -> None:
        self.sessions = sessions
        self.taxonomy = taxonomy
        self.ids: dict[str, int] = {}  # record id → incident row id

    def record(self, incident: IncidentRecord) -> None:
        with self.sessions() as session:
            try:
                row, created = incidents.ingest(session, self.taxonomy, incident)
            except InvalidError as exc:  # a record the service cannot hold: skip, keep watching
                log.warning("incident %s not stored: %s", incident.id, exc.message)
                return
        metrics.INCIDENTS.labels(result="new" if created else "duplicate").inc()
        self.ids[incident.id] = row.id

    def __len__(self) -> int:
        return len(self.ids)


class Analysis:
    """Runs sources through detector → tracker → rules into the database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        taxonomy: Taxonomy,
        evidence: Callable[[], EvidenceStore],
        model_path: Path | None,
    ) -> None:
        self.sessions = sessions
        self.taxonomy = taxonomy
        self.evidence = evidence
        self.detector = SharedDetector(model_path)

    def config(self, data: dict[str, object]) -> SourceConfig:
        """A source's rules config, validated against the taxonomy."""
        return source_config(data, self.taxonomy)

    def run(
        self,
        source: FrameSource,
        config: SourceConfig,
        *,
        fps: float,
        locate: Callable[[Frame], Frame] = lambda frame: frame,
        on_frame: Callable[[Frame], None] | None = None,
    ) -> tuple[WatchSummary, DatabaseSink]:
        """Watch ``source`` to its end (a live one: until it is closed)."""
        engine = RulesEngine(config, taxonomy=self.taxonomy, store=self.evidence())
        sink = DatabaseSink(self.sessions, self.taxonomy)
        tracker = ByteTracker(TrackerConfig(frame_rate=fps))
        summary = watch(
            source,
            self.detector,
            engine,
            sink,
            tracker=tracker,
            locate=locate,
            on_frame=on_frame,
        )
        return summary, sink


def moving_config(taxonomy: Taxonomy, source_id: str, min_frames: int | None) -> dict[str, object]:
    """Rules config of a moving camera (dashcam, patrol photo): public space by default.

    ``min_frames`` overrides every clause (1 for a single photo); None keeps the defaults.
    """
    data: dict[str, object] = {
        "id": source_id,
        "moving": True,
        "default_zone": ZoneType.PAVEMENT.value,
    }
    if min_frames is not None:
        clauses = [c.id for s in taxonomy.standards for c in s.clauses]
        data["rules"] = {clause: {"min_frames": min_frames} for clause in clauses}
    return data


def at_fixed_place(lat: float | None, lon: float | None) -> Callable[[Frame], Frame]:
    """Locator of a fixed camera: every frame is where the camera stands (if known)."""
    if lat is None or lon is None:
        return lambda frame: frame
    point = GeoPoint(lat, lon, None)
    return lambda frame: replace(frame, meta=replace(frame.meta, gps=point))
