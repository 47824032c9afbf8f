"""The rules engine of one source: tracked detections in, incidents out.

Per frame: map the model's class names onto the taxonomy (COCO names included), drop
detections that are too weak, too small or masked, update the object memory (dwell), run the
rules in claiming order, and fold the hits into incidents: a hit of the same standard that shares
an object with an open incident, overlaps its region (fixed cameras) or lies within
``dedup_radius_m`` of it with the same class (moving cameras with GPS) updates that incident
instead of opening another. Evidence is taken once per incident and frame, after all of the
frame's hits are folded in, with each object's own box. Incidents not seen for ``cooldown_s`` close.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

import numpy as np

from detection.annotate import Annotator
from detection.core import Detections, Frame, FrameMeta, GeoPoint, box_iou
from detection.evidence import EvidenceStore
from detection.geo import haversine_m
from detection.rules.config import SourceConfig, Zone
from detection.rules.evidence import EvidenceWriter
from detection.rules.geometry import ZoneMap, box_union
from detection.rules.incident import (
    Box,
    ClauseRef,
    Evidence,
    EvidenceFrame,
    EvidenceTrack,
    Incident,
    Location,
    SourceRef,
    StandardRef,
    ZoneRef,
    rounded_box,
)
from detection.rules.rules import Hit, Rule, Scene, default_rules
from detection.rules.schedule import any_contains
from detection.rules.tracks import ObjectTrack, Seen, TrackMemory
from detection.taxonomy import Role, Taxonomy, default_taxonomy

_NAMESPACE = uuid.UUID("6f1d3c2e-5b0a-4d6e-9c1f-2a7b8e4d9f30")


@dataclass
class _Member:
    """An object's part in an incident."""

    track: ObjectTrack
    role: Role
    first_seen: datetime
    last_seen: datetime
    best_confidence: float
    dwell_s: float


@dataclass
class _Open:
    """The mutable state of an incident while the engine still updates it."""

    id: str
    clause_id: str
    rule: str
    zone: Zone | None
    first_seen: datetime
    opened_at: datetime
    last_seen: datetime
    frame_size: tuple[int, int]
    region: Box
    frame_key: tuple[int, datetime]
    confidence: float
    evidence_confidence: float
    dwell_s: float
    location: GeoPoint | None
    in_priority_hours: bool = False
    members: dict[int, _Member] = field(default_factory=dict)
    observations: int = 1
    opened: EvidenceFrame | None = None
    best: EvidenceFrame | None = None
    status: str = "open"

    @property
    def standard_id(self) -> int:
        return int(self.clause_id[0])

    @property
    def classes(self) -> set[str]:
        return {m.track.class_name for m in self.members.values()}


class RulesEngine:
    """Incidents of one source. Feed frames in time order; call ``close_all`` at the end."""

    def __init__(
        self,
        source: SourceConfig,
        *,
        taxonomy: Taxonomy | None = None,
        store: EvidenceStore | None = None,
        annotator: Annotator | None = None,
        rules: Sequence[Rule] | None = None,
    ) -> None:
        self.source = source
        self.taxonomy = taxonomy or default_taxonomy()
        self._rules = tuple(rules) if rules is not None else default_rules()
        self._store = store
        self._annotator = annotator
        self._writer: EvidenceWriter | None = None
        drift = {
            c.name: source.stationarity.context_max_drift
            if c.role is Role.CONTEXT
            else source.stationarity.max_drift
            for c in self.taxonomy.classes
        }
        self._memory = TrackMemory(source.stationarity, drift.__getitem__)
        self._tz: tzinfo = source.tz
        self._zone_maps: dict[tuple[int, int], ZoneMap] = {}
        self._names: dict[tuple[str, ...], tuple[str | None, ...]] = {}
        self._open: list[_Open] = []
        self._claims: dict[int, _Open] = {}
        self._seq = 0

    def process(self, frame: Frame, detections: Detections) -> list[Incident]:
        """Run the rules on one frame; returns the incidents opened, updated or closed by it."""
        meta = frame.meta
        zones = self._zone_map(meta.width, meta.height)
        names, keep = self._usable(detections, zones)
        kept = detections[keep]
        seen = self._memory.update(meta.wall_time, names, kept.xyxy, kept.confidence, kept.track_id)
        scene = Scene(
            meta=meta,
            local_time=meta.wall_time.astimezone(self._tz),
            seen=tuple(seen),
            zones=zones,
            source=self.source,
            taxonomy=self.taxonomy,
            model_classes=frozenset(n for n in self._taxonomy_names(detections.names) if n),
        )
        changed: dict[str, _Open] = {}
        hits: dict[str, list[Hit]] = {}
        for hit in self._evaluate(scene):
            inc = self._record(hit, meta)
            changed[inc.id] = inc
            hits.setdefault(inc.id, []).append(hit)
        if self._store is not None:
            for inc_id, incident_hits in hits.items():
                self._evidence(changed[inc_id], incident_hits, frame, zones)
        for inc in self._expire(meta.wall_time):
            changed[inc.id] = inc
        return [self._snapshot(o) for o in changed.values()]

    def close_all(self) -> list[Incident]:
        """Close every open incident (end of the source); returns their final state."""
        closed = list(self._open)
        for inc in closed:
            self._close(inc)
        return [self._snapshot(o) for o in closed]

    # -- detections -------------------------------------------------------------------------

    def _taxonomy_names(self, names: tuple[str, ...]) -> tuple[str | None, ...]:
        """Model class names as taxonomy names (COCO names mapped); None: not ours."""
        if names not in self._names:
            known = set(self.taxonomy.class_names)
            coco = self.taxonomy.coco_aliases()
            self._names[names] = tuple(n if n in known else coco.get(n) for n in names)
        return self._names[names]

    def _usable(self, dets: Detections, zones: ZoneMap) -> tuple[list[str], np.ndarray]:
        """Taxonomy names of the kept boxes, and the keep mask (class, confidence, size, mask)."""
        mapped = self._taxonomy_names(dets.names)
        names = [mapped[int(i)] for i in dets.class_id]
        filt = self.source.detection
        keep = np.array(
            [
                n is not None and float(c) >= filt.threshold(n)
                for n, c in zip(names, dets.confidence, strict=True)
            ],
            bool,
        )
        if len(dets):
            keep &= dets.wh.min(axis=1) >= filt.min_box_px
            keep &= ~zones.masked(dets.center)
        return [n for n, k in zip(names, keep, strict=True) if k and n is not None], keep

    def _zone_map(self, width: int, height: int) -> ZoneMap:
        if (width, height) not in self._zone_maps:
            self._zone_maps[(width, height)] = ZoneMap(self.source, width, height)
        return self._zone_maps[(width, height)]

    # -- rules and incidents ----------------------------------------------------------------

    def _evaluate(self, scene: Scene) -> list[Hit]:
        """All rules in order; an object fired on by one clause is not used by later ones."""
        claimed = {key: inc.clause_id for key, inc in self._claims.items()}
        hits = []
        for rule in self._rules:
            for hit in rule.evaluate(scene, claimed):
                hits.append(hit)
                for s in hit.objects:
                    claimed.setdefault(s.track.key, hit.clause_id)
        return hits

    def _record(self, hit: Hit, meta: FrameMeta) -> _Open:
        inc = self._match(hit, meta)
        if inc is None:
            inc = self._new(hit, meta)
        else:
            self._update(inc, hit, meta)
        for s in hit.objects:
            self._claims[s.track.key] = inc
        return inc

    def _match(self, hit: Hit, meta: FrameMeta) -> _Open | None:
        """The open incident this hit continues, if any."""
        t = meta.wall_time
        cands = [
            o
            for o in self._open
            if o.standard_id == hit.standard_id
            and (t - o.last_seen).total_seconds() <= self.source.cooldown_s
        ]
        keys = {s.track.key for s in hit.objects}
        for o in cands:
            if keys & o.members.keys():
                return o
        if self.source.moving and meta.gps is not None:
            return self._nearest(hit, meta.gps, cands)
        if not cands:
            return None
        ious = box_iou([hit.box], [o.region for o in cands])[0]
        best = int(np.argmax(ious))
        return cands[best] if ious[best] > self.source.dedup_iou else None

    def _nearest(self, hit: Hit, here: GeoPoint, cands: list[_Open]) -> _Open | None:
        """Moving cameras: the closest open incident of the same class within the radius."""
        cls = hit.objects[0].class_name
        dist = [
            (haversine_m(here.lat, here.lon, o.location.lat, o.location.lon), i)
            for i, o in enumerate(cands)
            if o.location is not None and cls in o.classes
        ]
        within = [(d, i) for d, i in dist if d <= self.source.dedup_radius_m]
        return cands[min(within)[1]] if within else None

    def _new(self, hit: Hit, meta: FrameMeta) -> _Open:
        self._seq += 1
        t = meta.wall_time
        name = f"shirong:{self.source.id}:{hit.clause_id}:{t.isoformat()}:{self._seq}"
        inc = _Open(
            id=str(uuid.uuid5(_NAMESPACE, name)),
            clause_id=hit.clause_id,
            rule=hit.rule,
            zone=hit.zone,
            first_seen=min(_since(s.track, self.source.moving) for s in hit.objects),
            opened_at=t,
            last_seen=t,
            frame_size=(meta.width, meta.height),
            region=hit.box,
            frame_key=(meta.frame_index, t),
            confidence=hit.confidence,
            evidence_confidence=hit.confidence,
            dwell_s=hit.dwell_s,
            location=meta.gps,
        )
        inc.in_priority_hours = any_contains(
            self.source.priority_hours, inc.first_seen.astimezone(self._tz)
        )
        self._add_members(inc, hit, t)
        self._open.append(inc)
        return inc

    def _update(self, inc: _Open, hit: Hit, meta: FrameMeta) -> None:
        t = meta.wall_time
        key = (meta.frame_index, t)
        if key != inc.frame_key:
            inc.observations += 1
            inc.frame_key = key
            inc.region = hit.box
        else:
            x1, y1, x2, y2 = box_union([inc.region, hit.box])
            inc.region = (float(x1), float(y1), float(x2), float(y2))
        inc.last_seen = max(inc.last_seen, t)
        inc.confidence = max(inc.confidence, hit.confidence)
        inc.dwell_s = max(inc.dwell_s, hit.dwell_s)
        inc.location = inc.location or meta.gps
        self._add_members(inc, hit, t)

    def _add_members(self, inc: _Open, hit: Hit, t: datetime) -> None:
        for s in (*hit.objects, *hit.context):
            m = inc.members.get(s.track.key)
            if m is None:
                role = self.taxonomy.cls(s.class_name).role
                inc.members[s.track.key] = _Member(
                    s.track, role, s.track.first_seen, t, s.confidence, s.track.dwell_s
                )
            else:
                m.last_seen = t
                m.best_confidence = max(m.best_confidence, s.confidence)
                m.dwell_s = max(m.dwell_s, s.track.dwell_s)

    def _evidence(self, inc: _Open, hits: list[Hit], frame: Frame, zones: ZoneMap) -> None:
        """Evidence of this frame, taken once all its hits are folded in, so the frame shows
        (and records a box for) every object of the incident seen in it, not only the first."""
        confidence = max(h.confidence for h in hits)
        if inc.opened is None:
            inc.opened = inc.best = self._capture(frame, inc, hits, confidence, zones)
            inc.evidence_confidence = confidence
        elif confidence >= inc.evidence_confidence + self.source.evidence.min_gain:
            inc.best = self._capture(frame, inc, hits, confidence, zones)
            inc.evidence_confidence = confidence

    def _capture(
        self, frame: Frame, inc: _Open, hits: list[Hit], confidence: float, zones: ZoneMap
    ) -> EvidenceFrame:
        if self._writer is None:
            assert self._store is not None
            annotator = self._annotator or Annotator(taxonomy=self.taxonomy)
            self._writer = EvidenceWriter(self._store, self.source.evidence, annotator, self._tz)
        seen: dict[int, Seen] = {}
        for hit in hits:
            for s in (*hit.objects, *hit.context):
                seen.setdefault(s.track.key, s)
        objects = list(seen.values())
        return self._writer.capture(frame, objects, inc.region, confidence, hits[0].zone, zones)

    def _expire(self, now: datetime) -> list[_Open]:
        stale = [
            o for o in self._open if (now - o.last_seen).total_seconds() > self.source.cooldown_s
        ]
        for o in stale:
            self._close(o)
        return stale

    def _close(self, inc: _Open) -> None:
        inc.status = "closed"
        self._open.remove(inc)
        for key in [k for k, o in self._claims.items() if o is inc]:
            del self._claims[key]

    # -- output -----------------------------------------------------------------------------

    def _snapshot(self, o: _Open) -> Incident:
        tax = self.taxonomy
        clause = tax.clause(o.clause_id)
        standard = tax.standard(clause.standard_id)
        local = self._tz
        return Incident(
            id=o.id,
            status="closed" if o.status == "closed" else "open",
            source=SourceRef(id=self.source.id, name=self.source.name),
            standard=StandardRef(
                id=standard.id,
                key=standard.key,
                name_zh=standard.name_zh,
                name_en=standard.name_en,
            ),
            clause=ClauseRef(
                id=clause.id,
                key=clause.key,
                name_zh=clause.name_zh,
                name_en=clause.name_en,
                text_zh=clause.text_zh,
            ),
            rule=o.rule,
            classes=tuple(sorted(o.classes)),
            zone=None
            if o.zone is None
            else ZoneRef(id=o.zone.id, name=o.zone.name, type=o.zone.type.value),
            first_seen=o.first_seen.astimezone(local),
            opened_at=o.opened_at.astimezone(local),
            last_seen=o.last_seen.astimezone(local),
            dwell_s=round(o.dwell_s, 1),
            observations=o.observations,
            confidence=round(o.confidence, 4),
            in_priority_hours=o.in_priority_hours,
            location=None
            if o.location is None
            else Location(lat=o.location.lat, lon=o.location.lon, heading=o.location.heading),
            frame_size=o.frame_size,
            region_xyxy=rounded_box(o.region),
            tracks=tuple(self._member(k, m) for k, m in sorted(o.members.items())),
            evidence=None
            if o.opened is None or o.best is None
            else Evidence(opened=o.opened, best=o.best),
        )

    def _member(self, key: int, m: _Member) -> EvidenceTrack:
        return EvidenceTrack(
            key=key,
            tracker_ids=tuple(sorted(m.track.tracker_ids)),
            class_name=m.track.class_name,
            name_zh=self.taxonomy.cls(m.track.class_name).name_zh,
            role=m.role.value,
            first_seen=m.first_seen.astimezone(self._tz),
            last_seen=m.last_seen.astimezone(self._tz),
            frames=m.track.frames,
            dwell_s=round(m.dwell_s, 1),
            best_confidence=round(m.best_confidence, 4),
        )


def _since(track: ObjectTrack, moving: bool) -> datetime:
    """When the situation began: the object came to rest (fixed) or was first seen (moving)."""
    return track.first_seen if moving else track.still_since
