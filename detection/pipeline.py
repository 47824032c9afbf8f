"""Source → detector → tracker: the vision path under ``shirong detect`` and ``shirong watch``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from detection.core import Detections, Frame
from detection.engine import Detector
from detection.track import ByteTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Analysed:
    """One frame with its (tracked, where a tracker runs) detections."""

    frame: Frame
    detections: Detections


def analyse(
    frames: Iterable[Frame], detector: Detector, tracker: ByteTracker | None = None
) -> Iterator[Analysed]:
    """Detect (and track) frame by frame; a tracker is reset when the source id changes."""
    current_source: str | None = None
    for frame in frames:
        if tracker is not None and frame.meta.source_id != current_source:
            tracker.reset()
            current_source = frame.meta.source_id
        dets = detector(frame.image)
        if tracker is not None:
            dets = tracker.update(dets)
        yield Analysed(frame, dets)
