"""Multi-object tracking: ByteTrack with Kalman motion; each object keeps its id and class."""

from detection.track.byte_tracker import ByteTracker, TrackerConfig

__all__ = ["ByteTracker", "TrackerConfig"]
