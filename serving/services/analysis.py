"""What every in-service analysis shares: a lazily loaded detector and a database incident sink.

Cameras, photo uploads and video jobs all run ``detection.pipeline`` (as ``shirong watch`` does);
only the source, the rules config and where incidents go differ. It lives in services, below the
camera workers and the job runner that use it, because it stores through ``services.incidents``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session, sessionmaker

from detection.capture import FrameSource
from detection.core import Detections, Frame, GeoPoint
from detection.engine import Detector, check_detection, load_detector
from detection.evidence import EvidenceStore
from detection.pipeline import WatchSummary, assemble, detection_floor, watch
from detection.rules import EvidenceFrame, SourceConfig, ZoneType, source_config
from detection.rules import Incident as IncidentRecord
from detection.taxonomy import Taxonomy
from detection.track import TrackerConfig
from serving import metrics
from serving.services import incidents
from serving.services.errors import InvalidError
from serving.services.recurrence import Recurrence

log = logging.getLogger(__name__)


class LazyDetector:
    """A worker process's model, loaded on first use (a process that analyses nothing never
    loads it) and kept for every source the process analyses (a pool worker's many photos).

    The confidence floor is the tracker's low threshold (``detection_floor`` without a source: one
    model serves every source, so no source's rules lower it): ByteTracker's second stage needs
    the weak boxes and each source's rules filter by their own thresholds afterwards. Calls are
    serialised: ONNX Runtime already uses every core it is given for one image, so parallel calls
    only add memory.
    """

    def __init__(self, path: Path | None, threads: int | None = None) -> None:
        self.path = path
        self.threads = threads
        self._lock = threading.Lock()
        self._detector: Detector | None = None

    def _loaded(self) -> Detector:
        with self._lock:
            if self._detector is None:
                conf = detection_floor(TrackerConfig())
                self._detector = load_detector(self.path, conf=conf, threads=self.threads)
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


#: Seconds of source time between two stored states of one incident while nothing decisive
#: changes. The rules engine emits a state on every frame an incident changes (vtest.avi: 125
#: states of 2 incidents in 159 frames), each a commit; a reviewer needs the opening, better
#: evidence and the end at once, "still there" only now and then. Source time, not the clock:
#: a live camera's is the clock, and a file analysed faster than real time writes the same.
WRITE_EVERY_S = 5.0


@dataclass(frozen=True)
class _Stored:
    """What the database holds of an incident: enough to tell whether a state is news."""

    last_seen: datetime
    best: EvidenceFrame | None


def _best(incident: IncidentRecord) -> EvidenceFrame | None:
    return incident.evidence.best if incident.evidence else None


class DatabaseSink:
    """Incident sink that stores incident states as ``POST /incidents`` does, only what changed.

    A state is written when the incident opens, closes or gets better evidence, otherwise at most
    every ``write_every_s`` seconds of source time. The latest state held back is written once
    that time has passed (``tick``, every analysed frame), with the next written state, or by
    ``flush`` when the source ends, so the final state is never lost.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        taxonomy: Taxonomy,
        policy: Recurrence,
        write_every_s: float = WRITE_EVERY_S,
    ) -> None:
        self.sessions = sessions
        self.taxonomy = taxonomy
        self.policy = policy
        self.write_every_s = write_every_s
        self.ids: dict[str, int] = {}  # record id → incident row id
        self._stored: dict[str, _Stored] = {}
        self._held: dict[str, IncidentRecord] = {}  # latest state not written yet

    def record(self, incident: IncidentRecord) -> None:
        self._held[incident.id] = incident
        if self._due(incident, incident.last_seen):
            self._write(incident)

    def tick(self, now: datetime) -> None:
        """Write the states held back for ``write_every_s`` by ``now`` (source time)."""
        for incident in [i for i in self._held.values() if self._due(i, now)]:
            self._write(incident)

    def flush(self) -> None:
        """Write every state held back (the source ended or the worker stops)."""
        for incident in list(self._held.values()):
            self._write(incident)

    def _due(self, incident: IncidentRecord, now: datetime) -> bool:
        stored = self._stored.get(incident.id)
        return (
            stored is None
            or incident.status == "closed"
            or _best(incident) != stored.best
            or (now - stored.last_seen).total_seconds() >= self.write_every_s
        )

    def _write(self, incident: IncidentRecord) -> None:
        with self.sessions() as session:
            try:
                row, created = incidents.ingest(session, self.taxonomy, incident, self.policy)
            except InvalidError as exc:  # a record the service cannot hold: skip, keep watching
                log.warning("incident %s not stored: %s", incident.id, exc.message)
                self._held.pop(incident.id, None)
                return
        self._held.pop(incident.id, None)
        self._stored[incident.id] = _Stored(incident.last_seen, _best(incident))
        metrics.INCIDENTS.labels(result="new" if created else "duplicate").inc()
        self.ids[incident.id] = row.id

    def __len__(self) -> int:
        """Incidents this run opened or updated (records folded into one incident count once)."""
        return len(set(self.ids.values()))


class Analysis:
    """Runs sources through detector → tracker → rules into the database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        taxonomy: Taxonomy,
        evidence: Callable[[], EvidenceStore],
        model_path: Path | None,
        recurrence: Recurrence,
        threads: int | None = None,
    ) -> None:
        self.sessions = sessions
        self.taxonomy = taxonomy
        self.evidence = evidence
        self.recurrence = recurrence
        self.detector = LazyDetector(model_path, threads)

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
        pipeline = assemble(
            config, fps=fps, taxonomy=self.taxonomy, store=self.evidence(), detector=self.detector
        )
        sink = DatabaseSink(self.sessions, self.taxonomy, self.recurrence)

        def analysed(frame: Frame) -> None:
            sink.tick(frame.meta.wall_time)
            if on_frame is not None:
                on_frame(frame)

        try:
            summary = watch(source, pipeline, sink, locate=locate, on_frame=analysed)
        finally:
            sink.flush()
        return summary, sink


def check_model(path: Path | None) -> None:
    """ModelError now (the API answers 503, before storing anything) when workers would find no
    model file, or the set file names one that is missing; the API process never loads one."""
    check_detection(path)


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
