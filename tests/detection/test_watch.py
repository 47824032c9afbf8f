"""``shirong watch``: registration, errors, end to end on vtest (the loop: test_pipeline.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import yaml

from detection import watch as watch_cli
from detection.cli import build_parser, main
from detection.evidence import EvidenceStore, sha256_file
from detection.rules import Incident
from detection.rules.config import EXAMPLES_DIR
from detection.taxonomy import DEFAULT_TAXONOMY
from tests.conftest import COCO_INT8, REPO, SHARED, VTEST

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


DOG_ON_STREET = SHARED / "data" / "cones" / "images" / "cone__139_.jpg"  # a corgi by a cone


@pytest.mark.shared_data
@pytest.mark.parametrize(("model", "clauses"), [(None, ["6b"]), ("shirong-v2", [])])
def test_a_dog_on_the_street_opens_the_dog_rule_with_the_default_set(
    tmp_path: Path, model: str | None, clauses: list[str]
) -> None:
    """A 12 s clip of a dog photo: the default set (whose COCO model knows dogs) opens 6b (a dog
    with nobody in view); the disorder model alone (``--model``) sees no dog."""
    image = cv2.imread(str(DOG_ON_STREET))
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    clip = tmp_path / "dog.mp4"
    video = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 2.0, (w, h))
    for _ in range(24):
        video.write(image[:h, :w])
    video.release()
    config = tmp_path / "rules.yaml"
    config.write_text("version: 1\nsources: [{id: street, default_zone: pavement}]\n")
    out = tmp_path / "out"
    chosen = [] if model is None else ["--model", str(REPO / "models" / model / "model.onnx")]
    run = _watch(str(clip), "--config", str(config), "--out", str(out), "--fps", "2", *chosen)
    assert run.returncode == 0, run.stderr
    incidents = _incidents(out)
    assert [inc.clause.id for inc in incidents] == clauses, run.stdout
    for inc in incidents:
        assert inc.classes == ("dog",)
