"""What the rules remember about each object across frames: how long it has stayed put.

Trackers switch ids (occlusion, a missed detection, a re-started tracker), but a table that
disappears for a few frames and comes back at the same place is the same table: a lost track that
reappears within ``rejoin_gap_s`` with the same class and an overlapping box (IoU) or a nearby
centre continues the old object's dwell. Boxes without a track id (untracked input, unconfirmed
tracks) are associated the same way, so the rules also work on plain detections.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from detection.core import FloatArray, box_iou
from detection.rules.config import Stationarity
from detection.rules.geometry import box_size, centre_point


@dataclass
class ObjectTrack:
    """One physical object as the rules see it (may span several tracker ids)."""

    key: int
    class_name: str
    first_seen: datetime
    last_seen: datetime
    box: FloatArray
    confidence: float
    anchor: tuple[float, float]
    still_since: datetime
    frames: int = 1
    tracker_ids: set[int] = field(default_factory=set)
    tick: int = 0

    @property
    def dwell_s(self) -> float:
        """Seconds the object has stayed within the drift tolerance of its anchor."""
        return max(0.0, (self.last_seen - self.still_since).total_seconds())

    @property
    def age_s(self) -> float:
        """Seconds since the object was first seen."""
        return max(0.0, (self.last_seen - self.first_seen).total_seconds())


@dataclass(frozen=True)
class Seen:
    """An object observed in the current frame: its track plus this frame's box and confidence."""

    track: ObjectTrack
    box: FloatArray
    confidence: float

    @property
    def class_name(self) -> str:
        return self.track.class_name


class TrackMemory:
    """Object tracks of one source, updated frame by frame."""

    def __init__(self, settings: Stationarity, max_drift_for: Callable[[str], float]) -> None:
        self.settings = settings
        self._max_drift_for = max_drift_for
        self._tracks: dict[int, ObjectTrack] = {}
        self._by_tracker_id: dict[tuple[int, str], int] = {}
        self._next_key = 1
        self._tick = 0

    def __len__(self) -> int:
        return len(self._tracks)

    def update(
        self,
        t: datetime,
        class_names: Sequence[str],
        xyxy: FloatArray,
        confidence: FloatArray,
        tracker_ids: npt.NDArray[np.int64] | None,
    ) -> list[Seen]:
        """Observe one frame's boxes (rows aligned); returns one Seen per row."""
        self._tick += 1
        out: list[Seen | None] = [None] * len(class_names)
        pending: list[int] = []
        for i, name in enumerate(class_names):
            tid = -1 if tracker_ids is None else int(tracker_ids[i])
            key = self._by_tracker_id.get((tid, name)) if tid >= 0 else None
            track = self._tracks.get(key) if key is not None else None
            if track is not None and track.tick != self._tick:
                out[i] = self._observe(track, t, xyxy[i], float(confidence[i]))
            else:
                pending.append(i)
        for i, track in self._rejoin(t, pending, class_names, xyxy).items():
            out[i] = self._observe(track, t, xyxy[i], float(confidence[i]))
        for i in pending:
            if out[i] is None:
                track = self._new(t, class_names[i], xyxy[i])
                out[i] = self._observe(track, t, xyxy[i], float(confidence[i]))
        if tracker_ids is not None:
            for i, seen in enumerate(out):
                if seen is not None and tracker_ids[i] >= 0:
                    seen.track.tracker_ids.add(int(tracker_ids[i]))
                    self._by_tracker_id[(int(tracker_ids[i]), seen.class_name)] = seen.track.key
        self._expire(t)
        return [s for s in out if s is not None]

    def _rejoin(
        self, t: datetime, rows: list[int], class_names: Sequence[str], xyxy: FloatArray
    ) -> dict[int, ObjectTrack]:
        """Greedy association of unmatched boxes to tracks not seen this frame (best IoU first)."""
        cfg = self.settings
        lost = [
            tr
            for tr in self._tracks.values()
            if tr.tick != self._tick and (t - tr.last_seen).total_seconds() <= cfg.rejoin_gap_s
        ]
        if not rows or not lost:
            return {}
        ious = box_iou(xyxy[rows], np.stack([tr.box for tr in lost]))
        pairs: list[tuple[float, float, int, int]] = []
        for r, i in enumerate(rows):
            cx, cy = centre_point(xyxy[i])
            for c, tr in enumerate(lost):
                if tr.class_name != class_names[i]:
                    continue
                tx, ty = centre_point(tr.box)
                dist = math.hypot(cx - tx, cy - ty) / box_size(tr.box)
                if ious[r, c] >= cfg.rejoin_iou or dist <= cfg.rejoin_distance:
                    pairs.append((-float(ious[r, c]), dist, i, c))
        matched: dict[int, ObjectTrack] = {}
        used: set[int] = set()
        for _, _, i, c in sorted(pairs):
            if i not in matched and c not in used:
                matched[i] = lost[c]
                used.add(c)
        return matched

    def _new(self, t: datetime, name: str, box: FloatArray) -> ObjectTrack:
        track = ObjectTrack(
            key=self._next_key,
            class_name=name,
            first_seen=t,
            last_seen=t,
            box=box.copy(),
            confidence=0.0,
            anchor=centre_point(box),
            still_since=t,
            frames=0,
        )
        self._tracks[track.key] = track
        self._next_key += 1
        return track

    def _observe(self, track: ObjectTrack, t: datetime, box: FloatArray, conf: float) -> Seen:
        cx, cy = centre_point(box)
        ax, ay = track.anchor
        if math.hypot(cx - ax, cy - ay) / box_size(box) > self._max_drift_for(track.class_name):
            track.anchor = (cx, cy)
            track.still_since = t
        track.box = box.copy()
        track.confidence = conf
        track.last_seen = max(t, track.last_seen)
        track.frames += 1
        track.tick = self._tick
        return Seen(track, track.box, conf)

    def _expire(self, t: datetime) -> None:
        gap = self.settings.rejoin_gap_s
        gone = [k for k, tr in self._tracks.items() if (t - tr.last_seen).total_seconds() > gap]
        for key in gone:
            del self._tracks[key]
        if gone:
            dead = set(gone)
            self._by_tracker_id = {k: v for k, v in self._by_tracker_id.items() if v not in dead}
