"""Identity persistence on a real street video: the COCO model's persons tracked over 150 frames.

vtest.avi has no ground truth, so the checks are proxies that a broken tracker fails: few ids for
many detections, long tracks, few frame-to-frame jumps, few tracks reborn where another ended.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import cv2
import numpy as np
import pytest

from detection.core import box_iou
from detection.engine import OnnxDetector
from detection.track import ByteTracker, TrackerConfig
from tests.conftest import COCO_INT8, VTEST

FRAMES = 150
Tracks = dict[int, list[tuple[int, np.ndarray]]]


def track_persons(config: TrackerConfig) -> tuple[Tracks, int]:
    """Per person track id, its (frame, box) list; and the number of confident person boxes."""
    detector = OnnxDetector(COCO_INT8, conf=config.low_thresh)  # keep boxes for the second stage
    tracker = ByteTracker(config)
    tracks: Tracks = defaultdict(list)
    confident = 0
    video = cv2.VideoCapture(str(VTEST))
    try:
        for frame in range(FRAMES):
            ok, image = video.read()
            assert ok, f"{VTEST} ended at frame {frame}"
            persons = tracker.update(detector(image)).of_classes(["person"])
            confident += int((persons.confidence >= config.high_thresh).sum())
            assert persons.track_id is not None
            for box, tid in zip(persons.xyxy, persons.track_id, strict=True):
                if tid > 0:
                    tracks[int(tid)].append((frame, box))
    finally:
        video.release()
    return tracks, confident


def jumps(tracks: Tracks) -> tuple[int, int]:
    """Steps of one id between consecutive frames whose boxes barely overlap (likely switches),
    and the number of all such steps."""
    bad = steps = 0
    for boxes in tracks.values():
        for (f0, b0), (f1, b1) in pairwise(boxes):
            if f1 == f0 + 1:
                steps += 1
                bad += int(box_iou(b0, b1)[0, 0] < 0.3)
    return bad, steps


def rebirths(tracks: Tracks, within: int = 10) -> int:
    """Tracks that start on the spot where another ended shortly before (an identity lost)."""
    ends = {tid: boxes[-1] for tid, boxes in tracks.items()}
    count = 0
    for tid, boxes in tracks.items():
        start, box = boxes[0]
        count += any(
            other != tid and 0 < start - end <= within and box_iou(box, end_box)[0, 0] > 0.3
            for other, (end, end_box) in ends.items()
        )
    return count


@pytest.mark.shared_data
@pytest.mark.slow
def test_person_identities_persist_on_vtest() -> None:
    tracks, confident = track_persons(TrackerConfig(frame_rate=10))  # vtest.avi is 10 fps
    lengths = np.array([len(boxes) for boxes in tracks.values()])
    bad, steps = jumps(tracks)
    print(
        f"vtest {FRAMES} frames: {len(tracks)} person ids, {confident} confident person boxes "
        f"({confident / FRAMES:.1f}/frame), track length median {np.median(lengths):.0f} "
        f"mean {lengths.mean():.1f}, jumps {bad}/{steps}, rebirths {rebirths(tracks)}"
    )
    assert len(tracks) * 20 < confident  # one id per person, not per detection
    assert np.median(lengths) >= 20
    assert bad <= 0.02 * steps
    assert rebirths(tracks) <= 2
