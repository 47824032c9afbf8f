"""``detection.pipeline``: assembly, locations, the loop over photos and videos, bad frames.

``shirong watch`` on the command line is tested in ``test_watch.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import ExifTags, Image

from detection import pipeline
from detection.capture import open_source
from detection.core import Detections
from detection.engine import OnnxDetector, load_detector
from detection.errors import ShirongError
from detection.evidence import EvidenceStore
from detection.geo import load_track_or_warn
from detection.rules import Incident, IncidentLog, RulesEngine, source_config
from detection.taxonomy import default_taxonomy
from detection.track import ByteTracker, TrackerConfig
from tests.conftest import COCO_INT8

NAMES = default_taxonomy().class_names


def _video(path: Path, frames: int = 10) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (320, 240))
    for i in range(frames):
        writer.write(np.full((240, 320, 3), 20 * i, np.uint8))
    writer.release()
    return path


def _gpx(path: Path, start: datetime, seconds: int) -> Path:
    points = "".join(
        f'<trkpt lat="{36.0 + i * 1e-5:.6f}" lon="120.38"><time>'
        f"{(start + timedelta(seconds=i)).strftime('%Y-%m-%dT%H:%M:%SZ')}</time></trkpt>"
        for i in range(seconds)
    )
    path.write_text(
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><trkseg>{points}</trkseg></trk></gpx>",
        encoding="utf-8",
    )
    return path


CFG = source_config({"id": "car-1", "moving": True, "default_zone": "pavement"})


@pytest.mark.parametrize("track_kind", ["gpx", "garbage"])
def test_locator_fills_gps_from_a_track_or_warns(
    tmp_path: Path, track_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    start = datetime(2024, 5, 6, 1, 0, tzinfo=UTC)
    track_file = tmp_path / "ride.gpx"
    if track_kind == "gpx":
        _gpx(track_file, start, 5)
    else:
        track_file.write_text("not a track at all")
    track = load_track_or_warn(track_file)
    with open_source(str(_video(tmp_path / "v.avi")), start_time=start) as source:
        locate = pipeline.Locator(track, source, CFG)
        points = [locate(f).meta.gps for f in source]
    if track_kind == "gpx":
        assert points[0] is not None and points[0].lat == pytest.approx(36.0)
        assert points[2] is not None and points[2].lat == pytest.approx(36.0 + 0.2e-5, abs=1e-9)
    else:
        assert points == [None] * 10
        assert "locations will be None" in caplog.text


def test_locator_reads_photo_exif(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    exif = Image.Exif()
    gps = ExifTags.GPS
    exif[ExifTags.IFD.GPSInfo] = {
        gps.GPSLatitudeRef: "N",
        gps.GPSLatitude: (36.0, 4.0, 1.56),
        gps.GPSLongitudeRef: "E",
        gps.GPSLongitude: (120.0, 22.0, 57.36),
    }
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2024:05:06 20:15:02"
    Image.new("RGB", (64, 48), (90, 120, 40)).save(folder / "p1.jpg", exif=exif)
    with open_source(str(folder)) as source:
        (frame,) = [pipeline.Locator(None, source, CFG)(f) for f in source]
    assert frame.meta.gps is not None and frame.meta.gps.lat == pytest.approx(36.0671, abs=1e-4)
    assert frame.meta.wall_time == datetime(2024, 5, 6, 20, 15, 2, tzinfo=CFG.tz)


class _SwappedModelOnFrames:
    """The real detector, but on some frames its output carries another class table (a model
    swapped mid-stream), which the real tracker rejects: a frame that fails."""

    def __init__(self, detector: Any, bad: set[int]) -> None:
        self.detector, self.bad, self.calls = detector, bad, 0
        self.names: tuple[str, ...] = detector.names

    def predict(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        return [self(image) for image in images]

    def __call__(self, image: npt.NDArray[np.uint8]) -> Detections:
        dets = self.detector(image)
        self.calls += 1
        if self.calls in self.bad:
            return Detections.empty(("other", "model"))
        return dets


@pytest.mark.shared_data
@pytest.mark.parametrize(("bad", "survives"), [({2}, True), (set(range(2, 20)), False)])
def test_bad_frames_are_skipped_until_too_many_in_a_row(
    tmp_path: Path, bad: set[int], survives: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "MAX_CONSECUTIVE_FAILURES", 3)
    detector = _SwappedModelOnFrames(load_detector(COCO_INT8), bad)
    with (
        open_source(str(_video(tmp_path / "v.avi", frames=6))) as source,
        IncidentLog(tmp_path / "incidents.jsonl") as log,
    ):
        run = lambda: pipeline.watch(  # noqa: E731
            source, pipeline.Pipeline(detector, ByteTracker(), RulesEngine(CFG)), log
        )
        if survives:
            summary = run()
            assert (summary.frames, summary.failed_frames) == (6, 1)
        else:
            with pytest.raises(ShirongError, match=r"3 frames in a row of .*v\.avi failed"):
                run()


def test_detection_floor_is_the_lowest_the_tracker_or_the_rules_need() -> None:
    tracker = TrackerConfig()  # low_thresh 0.1
    assert pipeline.detection_floor(tracker) == tracker.low_thresh
    assert pipeline.detection_floor(tracker, CFG) == tracker.low_thresh
    weak = source_config(
        {"id": "c", "detection": {"min_confidence": 0.3, "class_min_confidence": {"dog": 0.05}}}
    )
    assert pipeline.detection_floor(tracker, weak) == 0.05


class _Scripted:
    """A detector that sees a garbage bag on the pavement in every frame, or fails from frame
    ``fail_from`` on (counting calls from 1)."""

    names = NAMES

    def __init__(self, fail_from: int | None = None) -> None:
        self.fail_from, self.calls = fail_from, 0

    def predict(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        return [self(image) for image in images]

    def __call__(self, image: npt.NDArray[np.uint8]) -> Detections:
        self.calls += 1
        if self.fail_from is not None and self.calls >= self.fail_from:
            raise RuntimeError("model gone")
        return Detections.from_arrays(
            [(100.0, 100.0, 160.0, 180.0)], [0.9], [NAMES.index("garbage_bag")], NAMES
        )


# A dashcam: frames count, not dwell; 3a (piled items) needs two frames here.
BAGS = source_config(
    {"id": "car-1", "moving": True, "default_zone": "pavement", "rules": {"3a": {"min_frames": 2}}}
)


def _photos(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        cv2.imwrite(str(folder / f"p{i}.jpg"), np.full((240, 320, 3), 40 * i, np.uint8))
    return folder


def test_assemble_gives_a_fresh_tracker_at_the_fps_and_keeps_a_given_detector() -> None:
    detector = _Scripted()
    first = pipeline.assemble(BAGS, fps=4.0, detector=detector)
    second = pipeline.assemble(BAGS, fps=4.0, detector=detector)
    assert first.detector is detector and second.detector is detector
    assert first.tracker is not second.tracker and first.engine is not second.engine
    assert first.tracker.config.frame_rate == 4.0
    assert first.engine.source is BAGS


@pytest.mark.shared_data
def test_assemble_loads_the_model_at_the_detection_floor() -> None:
    weak = source_config({"id": "c", "detection": {"class_min_confidence": {"dog": 0.05}}})
    detector = pipeline.assemble(weak, fps=2.0, model=COCO_INT8).detector
    assert isinstance(detector, OnnxDetector) and detector.path == COCO_INT8
    assert detector.options.conf == 0.05


def test_watch_over_photos_records_and_closes_incidents_with_evidence(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    seen: list[int] = []
    with (
        open_source(str(_photos(tmp_path / "photos", 4)), source_id="car-1") as source,
        IncidentLog(tmp_path / "incidents.jsonl") as log,
    ):
        summary = pipeline.watch(
            source,
            pipeline.assemble(BAGS, fps=1.0, store=store, detector=_Scripted()),
            log,
            on_frame=lambda frame: seen.append(frame.meta.frame_index),
        )
    assert summary == pipeline.WatchSummary(4, 0, 1, 0)
    assert seen == [0, 1, 2, 3]
    lines = (tmp_path / "incidents.jsonl").read_text(encoding="utf-8").splitlines()
    states = [Incident.from_json(line) for line in lines]
    assert {s.id for s in states} == {states[0].id}
    final = states[-1]
    assert (final.rule, final.status, final.classes) == (
        "3a.piled_in_public_space",
        "closed",
        ("garbage_bag",),
    )
    assert final.evidence is not None and store.verify(final.evidence.best.original.sha256)


def test_open_incidents_are_recorded_closed_when_the_watch_gives_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "MAX_CONSECUTIVE_FAILURES", 2)
    states: list[Incident] = []

    class Sink:
        def record(self, incident: Incident) -> None:
            states.append(incident)

        def __len__(self) -> int:
            return len({s.id for s in states})

    with open_source(str(_photos(tmp_path / "photos", 6)), source_id="car-1") as source:
        assembled = pipeline.assemble(BAGS, fps=1.0, detector=_Scripted(fail_from=4))
        with pytest.raises(
            ShirongError, match=r"2 frames in a row of .* failed; last error: model"
        ):
            pipeline.watch(source, assembled, Sink())
    assert states and states[-1].status == "closed"


@pytest.mark.shared_data
def test_a_resolution_change_restarts_tracks_without_reusing_ids(
    tmp_path: Path, bus_jpg: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same photo at two sizes: the tracker's old boxes would be in the wrong pixel grid."""
    photo = cv2.imread(str(bus_jpg))
    for i, width in enumerate((640, 640, 640, 320, 320, 320)):
        cv2.imwrite(str(tmp_path / f"{i}.jpg"), cv2.resize(photo, (width, width * 4 // 3)))
    tracker = ByteTracker()
    ids: list[list[int]] = []
    update = tracker.update

    def recorded(dets: Detections) -> Detections:
        tracked = update(dets)
        assert tracked.track_id is not None
        ids.append([i for i in tracked.track_id.tolist() if i > 0])
        return tracked

    tracker.update = recorded  # type: ignore[method-assign]
    run = pipeline.Pipeline(load_detector(COCO_INT8), tracker, RulesEngine(CFG))
    with open_source(str(tmp_path)) as source, IncidentLog(tmp_path / "log.jsonl") as log:
        pipeline.watch(source, run, log)
    assert "changed resolution to 320x426: tracks restart" in caplog.text
    before, after = set().union(*ids[:3]), set().union(*ids[3:])
    assert before and after and min(after) > max(before)
