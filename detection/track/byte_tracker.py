"""ByteTrack multi-object tracker: Kalman motion, two-stage IoU association, class-consistent ids.

ByteTrack (Zhang et al., ECCV 2022) first matches confident detections to all live tracks, then
gives the tracks left over a second chance with the low-confidence detections, which are usually the
same objects partly occluded. Tracks keep their id through short occlusions (``track_buffer``).

Differences from the reference implementation, for this project:
- a track never changes class: a dog box is never associated with a person track;
- ids are handed out only when a track is confirmed (second consecutive hit, or any hit in the first
  frame), so ids are 1, 2, 3, ... without gaps, and never reused until :meth:`ByteTracker.reset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from detection.core import Detections, IntArray, box_iou
from detection.errors import InputError
from detection.track.kalman import F64, KalmanFilterXYAH, xyah_to_xyxy, xyxy_to_xyah
from detection.track.matching import assign

# Reference frame rate at which ``track_buffer`` is expressed (ByteTrack's convention).
_BUFFER_FPS = 30.0
# A lost track overlapping a live one this much is the same object tracked twice: drop one.
_DUPLICATE_IOU = 0.85


class TrackerConfig(BaseModel):
    """ByteTrack settings; the defaults are Ultralytics' ``bytetrack.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_thresh: float = Field(
        0.25, gt=0.0, le=1.0, description="Detections at or above this confidence match first."
    )
    low_thresh: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="Detections in [low_thresh, high_thresh) only extend existing tracks "
        "(second stage); lower ones are ignored.",
    )
    new_track_thresh: float = Field(
        0.25, gt=0.0, le=1.0, description="Unmatched detections at or above this start a new track."
    )
    match_iou: float = Field(
        0.2,
        gt=0.0,
        le=1.0,
        description="Minimum IoU between a track's predicted box and a confident detection.",
    )
    low_match_iou: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="Minimum IoU for the second stage (low-confidence detections); stricter, "
        "since those boxes are less reliable.",
    )
    track_buffer: int = Field(
        30,
        ge=1,
        le=10_000,
        description="How long a lost track waits to be re-found, in frames at 30 fps; scaled by "
        "frame_rate/30 so it is the same span of time at any frame rate.",
    )
    frame_rate: float = Field(
        30.0, gt=0.0, le=1000.0, description="Frame rate of the source (fps)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> TrackerConfig:
        if self.low_thresh > self.high_thresh:
            raise ValueError(
                f"low_thresh ({self.low_thresh}) must not exceed high_thresh ({self.high_thresh})"
            )
        if self.new_track_thresh < self.high_thresh:
            raise ValueError(
                f"new_track_thresh ({self.new_track_thresh}) must be at least high_thresh "
                f"({self.high_thresh}): only confident detections start tracks"
            )
        return self

    @property
    def max_lost_frames(self) -> int:
        """Frames a lost track is kept at this frame rate."""
        return max(1, round(self.track_buffer * self.frame_rate / _BUFFER_FPS))


class TrackState(Enum):
    TRACKED = "tracked"
    LOST = "lost"


@dataclass
class _Track:
    """One object's Kalman state; ``track_id`` is 0 until the track is confirmed."""

    mean: F64
    covariance: F64
    class_id: int
    first_frame: int
    last_frame: int
    track_id: int = 0
    state: TrackState = TrackState.TRACKED

    @property
    def xyxy(self) -> F64:
        return xyah_to_xyxy(self.mean[:4])[0]


class ByteTracker:
    """Feed one frame's detections at a time, in order; returns them with ``track_id`` set."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._kf = KalmanFilterXYAH()
        self.reset()

    def reset(self) -> None:
        """Forget all tracks and restart ids from 1 (for a new video or camera)."""
        self._last_id = 0
        self.forget()

    def forget(self) -> None:
        """Forget all tracks but keep counting ids: the same camera after a resolution change,
        whose old boxes mean nothing in the new pixel grid, while the rules still remember the
        old ids."""
        self._tracks: list[_Track] = []
        self._frame = 0
        self._names: tuple[str, ...] | None = None

    def update(self, detections: Detections) -> Detections:
        """Track one frame. ``track_id`` is -1 for boxes without a confirmed track."""
        self._check_names(detections)
        self._frame += 1
        ids = np.full(len(detections), -1, np.int64)
        conf = detections.confidence
        high = np.flatnonzero(conf >= self.config.high_thresh)
        low = np.flatnonzero((conf >= self.config.low_thresh) & (conf < self.config.high_thresh))
        self._predict()

        confirmed = [t for t in self._tracks if t.track_id]
        tentative = [t for t in self._tracks if not t.track_id]
        # Stage 1: confident detections against every confirmed track, lost ones included.
        left, high = self._associate(confirmed, detections, high, self.config.match_iou, ids)
        # Stage 2: low-confidence detections keep tracks that were seen last frame alive.
        still_tracked = [t for t in left if t.state is TrackState.TRACKED]
        unmatched, _ = self._associate(
            still_tracked, detections, low, self.config.low_match_iou, ids
        )
        for track in unmatched:
            track.state = TrackState.LOST
        # Tentative tracks need a second confident hit to be confirmed, else they are dropped.
        dropped, high = self._associate(tentative, detections, high, self.config.match_iou, ids)
        self._birth(detections, high, ids)
        self._prune(dropped)
        return detections.with_track_ids(ids)

    def _check_names(self, detections: Detections) -> None:
        if self._names is None:
            self._names = detections.names
        elif detections.names != self._names:
            raise InputError(
                f"Detections.names changed between frames ({len(self._names)} classes "
                f"starting {self._names[:3]}, now {len(detections.names)} starting "
                f"{detections.names[:3]}); call reset() before tracking another model's output"
            )

    def _predict(self) -> None:
        if not self._tracks:
            return
        for track in self._tracks:
            if track.state is TrackState.LOST:
                track.mean[7] = 0.0  # a lost box keeps moving but stops growing or shrinking
        means, covs = self._kf.predict(
            np.stack([t.mean for t in self._tracks]), np.stack([t.covariance for t in self._tracks])
        )
        for track, mean, cov in zip(self._tracks, means, covs, strict=True):
            track.mean, track.covariance = mean, cov

    def _associate(
        self,
        tracks: list[_Track],
        detections: Detections,
        candidates: npt.NDArray[np.intp],
        min_iou: float,
        ids: IntArray,
    ) -> tuple[list[_Track], npt.NDArray[np.intp]]:
        """Match tracks to candidate detections of the same class; update the matched tracks.

        Returns the unmatched tracks and the unmatched candidate indices.
        """
        iou = box_iou([t.xyxy for t in tracks], detections.xyxy[candidates])
        same_class = (
            np.array([t.class_id for t in tracks])[:, None]
            == (detections.class_id[candidates][None, :])
        )
        pairs, free_tracks, free_dets = assign(np.where(same_class, iou, 0.0), min_iou)
        for t_idx, d_idx in pairs:
            det = int(candidates[d_idx])
            ids[det] = self._hit(tracks[t_idx], detections.xyxy[det])
        return [tracks[i] for i in free_tracks], candidates[free_dets]

    def _hit(self, track: _Track, xyxy: npt.NDArray[np.float32]) -> int:
        """Correct a track with its matched box; confirm it if new. Returns its id."""
        track.mean, track.covariance = self._kf.update(
            track.mean, track.covariance, xyxy_to_xyah(xyxy)[0]
        )
        track.state = TrackState.TRACKED
        track.last_frame = self._frame
        if not track.track_id:
            track.track_id = self._new_id()
        return track.track_id

    def _birth(
        self, detections: Detections, candidates: npt.NDArray[np.intp], ids: IntArray
    ) -> None:
        """Start tracks from confident unmatched detections (confirmed at once in frame 1)."""
        for det in candidates:
            if detections.confidence[det] < self.config.new_track_thresh:
                continue
            mean, cov = self._kf.initiate(xyxy_to_xyah(detections.xyxy[det])[0])
            track = _Track(mean, cov, int(detections.class_id[det]), self._frame, self._frame)
            if self._frame == 1:
                track.track_id = ids[det] = self._new_id()
            self._tracks.append(track)

    def _new_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def _prune(self, dropped: list[_Track]) -> None:
        """Remove dropped tentative tracks, lost tracks past the buffer, and duplicates."""
        gone = {id(t) for t in dropped}
        horizon = self._frame - self.config.max_lost_frames
        tracks = [t for t in self._tracks if id(t) not in gone and t.last_frame > horizon]
        self._tracks = _without_duplicates(tracks)


def _without_duplicates(tracks: list[_Track]) -> list[_Track]:
    """Of a lost and a tracked track on the same spot, keep the one that has lived longer."""
    live = [t for t in tracks if t.state is TrackState.TRACKED and t.track_id]
    lost = [t for t in tracks if t.state is TrackState.LOST]
    if not live or not lost:
        return tracks
    iou = box_iou([t.xyxy for t in live], [t.xyxy for t in lost])
    gone: set[int] = set()
    for i, j in zip(*np.nonzero(iou > _DUPLICATE_IOU), strict=True):
        a, b = live[i], lost[j]
        if a.class_id != b.class_id:
            continue
        older_live = a.last_frame - a.first_frame > b.last_frame - b.first_frame
        gone.add(id(b) if older_live else id(a))
    return [t for t in tracks if id(t) not in gone]
