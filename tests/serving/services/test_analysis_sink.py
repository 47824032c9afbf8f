"""The database sink writes only what changed: opening, better evidence, the end, and otherwise
at most every few seconds of source time; the final state is never lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import Engine, event, select

from detection.capture.base import FrameSource
from detection.core import Detections, Frame, FrameMeta
from detection.rules.incident import Incident as IncidentRecord
from detection.taxonomy import default_taxonomy
from serving.db.models import Incident
from serving.services.analysis import WRITE_EVERY_S, Analysis, DatabaseSink
from tests.serving.helpers import Api, make_record

START = datetime(2026, 5, 4, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
BAG = (300.0, 200.0, 340.0, 240.0)
NAMES = default_taxonomy().class_names


class Clip(FrameSource):
    """One frame a second; frame i's pixels are i (each evidence frame is its own file)."""

    def __init__(self, seconds: int) -> None:
        super().__init__("cam-sink", "clip://cam-sink")
        self.frames = iter(range(seconds + 1))

    def __next__(self) -> Frame:
        i = next(self.frames)
        meta = FrameMeta("cam-sink", i, float(i), START + timedelta(seconds=i), 640, 480, None)
        return Frame(np.full((480, 640, 3), i % 256, np.uint8), meta)

    def close(self) -> None:
        self.frames = iter(())


class Scripted:
    """A detector that sees the bag while ``present(second)`` says so, at ``conf(second)``."""

    names = NAMES

    def __init__(self, present: Any, conf: Any) -> None:
        self.present, self.conf, self.second = present, conf, -1

    def __call__(self, image: np.ndarray) -> Detections:
        self.second += 1
        if not self.present(self.second):
            return Detections.empty(NAMES)
        conf = self.conf(self.second)
        return Detections.from_arrays([BAG], [conf], [NAMES.index("garbage_bag")], NAMES)


def analysis_of(api: Api, detector: Scripted) -> Analysis:
    """The service's own analysis, with the scripted detector in place of the model."""
    analysis: Analysis = api.client.app.state.analysis
    analysis.detector = detector  # type: ignore[assignment]
    return analysis


def config(analysis: Analysis) -> Any:
    rules = {"3a": {"dwell_s": 10, "min_frames": 3}}
    return analysis.config({"id": "cam-sink", "default_zone": "pavement", "rules": rules})


@contextmanager
def commits(api: Api) -> Iterator[list[int]]:
    """Commits on the service's engine inside the block, by this thread (the analysis runs here;
    the service's own periodic workers commit now and then too)."""
    engine: Engine = api.services.sessions.kw["bind"]
    counts = [0]
    me = threading.get_ident()

    def count(_: Any) -> None:
        counts[0] += threading.get_ident() == me

    event.listen(engine, "commit", count)
    try:
        yield counts
    finally:
        event.remove(engine, "commit", count)


def row(api: Api) -> Incident:
    with api.services.sessions() as session:
        [incident] = session.scalars(select(Incident)).all()
        session.expunge(incident)
        return incident


def test_a_minute_of_a_bag_is_a_dozen_writes_not_one_per_frame(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """61 frames: the bag fires at 10 s, gets a better frame at 30 s; states every second."""
    analysis = analysis_of(api, Scripted(lambda s: True, lambda s: 0.9 if s >= 30 else 0.6))
    states: list[IncidentRecord] = []
    original = DatabaseSink.record

    def counting(sink: DatabaseSink, incident: IncidentRecord) -> None:
        states.append(incident)
        original(sink, incident)

    with monkeypatch.context() as patch, commits(api) as counted:
        patch.setattr(DatabaseSink, "record", counting)
        analysis.run(Clip(60), config(analysis), fps=1)
    assert len(states) == 52  # 51 open states (10-60 s) and the closed one: the old commit count
    # opened 10 s; every 5 s at 15, 20, 25; better evidence 30 s; 35 ... 60; closed at the end.
    assert counted[0] <= 1 + 3 + 1 + 6 + 1, counted[0]
    final = states[-1]
    assert final.status == "closed" and final.evidence is not None
    stored = row(api)
    assert stored.last_seen == final.last_seen
    assert stored.record["observations"] == final.observations
    assert stored.record["evidence"]["best"]["frame_index"] == 30


def test_a_state_held_back_is_written_once_the_interval_passes_without_news(api: Api) -> None:
    """The bag goes at 18 s: the state of 16-18 s waits, and is in the database by 20 s, long
    before the incident closes."""
    analysis = analysis_of(api, Scripted(lambda s: s <= 18, lambda s: 0.6))
    seen: dict[int, datetime] = {}

    def on_frame(frame: Frame) -> None:
        if frame.meta.frame_index in (19, 21):
            seen[frame.meta.frame_index] = row(api).last_seen

    analysis.run(Clip(25), config(analysis), fps=1, on_frame=on_frame)
    assert seen[19] == START + timedelta(seconds=15)  # written at 15; 16-18 held back
    assert seen[21] == START + timedelta(seconds=18)  # written by the tick at 20


def test_flush_writes_the_last_state_held_back(api: Api) -> None:
    """Whatever the throttle held back is written when the source ends or the worker stops."""
    services = api.services
    recurrence = api.client.app.state.analysis.recurrence
    sink = DatabaseSink(services.sessions, services.taxonomy, recurrence)
    first = make_record()
    data = first.model_dump(mode="json")
    later = first.last_seen + timedelta(seconds=WRITE_EVERY_S / 2)
    data.update(status="open", last_seen=later.isoformat(), observations=31)
    held = IncidentRecord.model_validate(data)
    sink.record(first.model_copy(update={"status": "open"}))
    sink.record(held)
    assert row(api).last_seen == first.last_seen
    sink.flush()
    assert row(api).last_seen == later
    assert row(api).record["observations"] == 31
