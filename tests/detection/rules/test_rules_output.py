"""incidents.jsonl: one complete line per incident, whatever happens."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rules_helpers import MONDAY_9AM, config, detections, frame, on_ground, steady

from detection.rules import Incident, IncidentLog, RulesEngine


def incidents_over_time() -> list[Incident]:
    """Every state change of two incidents: opened, updated each frame, closed at the end."""
    engine = RulesEngine(config())
    out: list[Incident] = []
    objs = [on_ground("garbage_bag", 100, 180, tid=1), on_ground("ground_lock", 400, 340, tid=2)]
    for i, (s, o) in enumerate(steady(objs, 12)):
        out += engine.process(frame(i, MONDAY_9AM + timedelta(seconds=s)), detections(o))
    return out + engine.close_all()


def lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_one_line_per_incident_with_its_latest_state(tmp_path: Path) -> None:
    path = tmp_path / "incidents.jsonl"
    states = incidents_over_time()
    with IncidentLog(path, snapshot_every_s=3600) as log:
        for inc in states:
            log.record(inc)
            assert {r["id"] for r in lines(path)} <= {i.id for i in states}
        assert len(lines(path)) == 2  # appended at opening, before any snapshot
    records = lines(path)
    assert [r["status"] for r in records] == ["closed", "closed"]
    assert [r["observations"] for r in records] == [3, 3]


def test_new_incidents_are_on_disk_at_once(tmp_path: Path) -> None:
    path = tmp_path / "incidents.jsonl"
    first = incidents_over_time()[0]
    log = IncidentLog(path, snapshot_every_s=3600)
    log.record(first)
    assert lines(path)[0]["id"] == first.id  # not waiting for close()
    log.close()


def test_reopening_keeps_records_and_drops_a_torn_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "incidents.jsonl"
    first = incidents_over_time()[0]
    path.write_text(first.to_json() + "\n" + first.to_json()[:57], encoding="utf-8")
    with IncidentLog(path) as log:
        assert len(log) == 1
    assert "line 2 is not an incident record" in caplog.text
    assert [r["id"] for r in lines(path)] == [first.id]
    assert not [p for p in tmp_path.iterdir() if p.name != "incidents.jsonl"]
