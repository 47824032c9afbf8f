"""``shirong watch``: registration, errors, locations, bad frames, end to end on vtest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from PIL import ExifTags, Image

from detection.capture import open_source
from detection.cli import build_parser, main
from detection.core import Detections
from detection.engine import load_detector
from detection.errors import ShirongError
from detection.evidence import EvidenceStore, sha256_file
from detection.geo import load_track_or_warn
from detection.rules import Incident, IncidentLog, RulesEngine, source_config
from detection.rules import cli as watch_cli
from detection.rules.config import EXAMPLES_DIR
from detection.taxonomy import DEFAULT_TAXONOMY
from detection.track import ByteTracker
from tests.conftest import COCO_INT8, REPO, VTEST

VTEST_CONFIG = EXAMPLES_DIR / "vtest.yaml"


def test_watch_is_registered() -> None:
    args = build_parser().parse_args(
        ["watch", "cam.mp4", "--config", "c.yaml", "--out", "o", "--fps", "2", "--gps", "g.gpx"]
    )
    assert args.func is watch_cli.run_watch
    assert (args.fps, args.gps, args.model, args.source_id) == (2.0, Path("g.gpx"), None, None)


def test_config_errors_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("sources: [{id: cam-1, zones: [{id: z, type: beach, polygon: []}]}]")
    assert main(["watch", "x.mp4", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"shirong watch: error: invalid {bad}: source 'cam-1' (sources[0])" in err
    assert "zones.0.type" in err


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
        locate = watch_cli.Locator(track, source, CFG)
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
        (frame,) = [watch_cli.Locator(None, source, CFG)(f) for f in source]
    assert frame.meta.gps is not None and frame.meta.gps.lat == pytest.approx(36.0671, abs=1e-4)
    assert frame.meta.wall_time == datetime(2024, 5, 6, 20, 15, 2, tzinfo=CFG.tz)


class _SwappedModelOnFrames:
    """The real detector, but on some frames its output carries another class table (a model
    swapped mid-stream), which the real tracker rejects: a frame that fails."""

    def __init__(self, detector: Any, bad: set[int]) -> None:
        self.detector, self.bad, self.calls = detector, bad, 0

    def __call__(self, image: np.ndarray) -> Detections:
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
    monkeypatch.setattr(watch_cli, "MAX_CONSECUTIVE_FAILURES", 3)
    detector = _SwappedModelOnFrames(load_detector(COCO_INT8), bad)
    engine = RulesEngine(CFG)
    with (
        open_source(str(_video(tmp_path / "v.avi", frames=6))) as source,
        IncidentLog(tmp_path / "incidents.jsonl") as log,
    ):
        run = lambda: watch_cli.watch(  # noqa: E731
            source, detector, engine, log, tracker=ByteTracker(), locate=lambda f: f
        )
        if survives:
            summary = run()
            assert (summary.frames, summary.failed_frames) == (6, 1)
        else:
            with pytest.raises(ShirongError, match=r"3 frames in a row of .*v\.avi failed"):
                run()


def _watch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "detection.cli", "watch", *args],
        cwd=REPO,
        env={**os.environ, "YOLO_OFFLINE": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _incidents(out: Path) -> list[Incident]:
    text = (out / "incidents.jsonl").read_text(encoding="utf-8")
    return [Incident.from_json(line) for line in text.splitlines()]


@pytest.mark.shared_data
@pytest.mark.slow
def test_vtest_with_the_project_taxonomy_reports_nothing(tmp_path: Path) -> None:
    """People walk and vehicles park: with the shipped taxonomy no standard is broken."""
    out = tmp_path / "out"
    run = _watch(
        str(VTEST),
        "--config",
        str(VTEST_CONFIG),
        "--out",
        str(out),
        "--model",
        str(COCO_INT8),
        "--fps",
        "1",
    )
    assert run.returncode == 0, run.stderr
    assert "0 failed" in run.stdout
    assert _incidents(out) == []


@pytest.mark.shared_data
@pytest.mark.slow
def test_vtest_end_to_end_with_parked_cars_as_piling(tmp_path: Path) -> None:
    """The same run with a taxonomy in which a car is 3a evidence (as a model would learn a new
    class): the car parked in the forecourt (a pavement zone) for the whole clip is reported,
    with evidence files whose hashes verify."""
    taxonomy = yaml.safe_load(DEFAULT_TAXONOMY.read_text(encoding="utf-8"))
    for cls in taxonomy["classes"]:
        if cls["name"] == "car":
            cls.update(role="cue", clauses=["3a"])
    tax_file = tmp_path / "taxonomy.yaml"
    tax_file.write_text(yaml.safe_dump(taxonomy, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    run = _watch(
        str(VTEST),
        "--config",
        str(VTEST_CONFIG),
        "--out",
        str(out),
        "--model",
        str(COCO_INT8),
        "--fps",
        "2",
        env={"SHIRONG_TAXONOMY": str(tax_file)},
    )
    assert run.returncode == 0, run.stderr
    incidents = _incidents(out)
    assert incidents, run.stdout
    store = EvidenceStore(out / "evidence")
    for inc in incidents:
        assert (inc.clause.id, inc.rule, inc.classes) == (
            "3a",
            "3a.piled_in_public_space",
            ("car",),
        )
        assert inc.zone is not None and inc.zone.id == "forecourt"
        assert inc.status == "closed" and inc.dwell_s >= 20
        assert inc.evidence is not None
        for frame in (inc.evidence.opened, inc.evidence.best):
            for f in (frame.original, frame.annotated, frame.crop):
                assert store.verify(f.sha256)
                assert sha256_file(out / "evidence" / f.path) == f.sha256
        original = cv2.imread(str(out / "evidence" / inc.evidence.best.original.path))
        assert original.shape == (576, 768, 3)
    records = [json.loads(x) for x in (out / "incidents.jsonl").read_text().splitlines()]
    assert len({r["id"] for r in records}) == len(records)
