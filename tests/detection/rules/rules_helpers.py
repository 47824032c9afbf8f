"""Synthetic, time-stepped scenes for the rules tests: a 640x480 street with one zone per type.

Layout (ground points decide the zone)::

    y   0-100  front   shop_front_band
    y 100-200  pave    pavement
    y 200-300  road    roadway
    y 300-360  bays    parking_bays
    y 360-480  night   night_market_area x 0-320 (18:00-02:00) | market  market_area x 320-640
                                                                 (06:00-12:00, spill 40 px)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from detection.core import Detections, Frame, FrameMeta, GeoPoint
from detection.evidence import EvidenceStore
from detection.rules import Incident, RulesEngine, SourceConfig, source_config
from detection.rules.config import DEFAULT_RULES
from detection.taxonomy import default_taxonomy

W, H = 640, 480
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_9AM = datetime(2024, 5, 6, 9, 0, tzinfo=SHANGHAI)
NAMES = default_taxonomy().class_names


def rect(x1: float, y1: float, x2: float, y2: float) -> list[list[float]]:
    return [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]


ZONES: list[dict[str, Any]] = [
    {"id": "front", "type": "shop_front_band", "polygon": rect(0, 0, 640, 100)},
    {"id": "pave", "type": "pavement", "polygon": rect(0, 100, 640, 200)},
    {"id": "road", "type": "roadway", "polygon": rect(0, 200, 640, 300)},
    {"id": "bays", "type": "parking_bays", "polygon": rect(0, 300, 640, 360)},
    {
        "id": "night",
        "type": "night_market_area",
        "polygon": rect(0, 360, 320, 480),
        "hours": [{"start": "18:00", "end": "02:00"}],
    },
    {
        "id": "market",
        "type": "market_area",
        "polygon": rect(320, 360, 640, 480),
        "hours": [{"start": "06:00", "end": "12:00"}],
        "spill_margin_px": 40,
    },
]

#: Short dwell times so scenes last seconds: the dwell clauses need 10 s and 3 frames
#: (2a/2b keep their defaults: 5 frames, no dwell; dogs: 10 frames).
#: Every clause with a dwell, shortened to 10 s and 3 frames.
FAST_RULES = {
    c: {"dwell_s": 10, "min_frames": 3} for c, (dwell, _) in DEFAULT_RULES.items() if dwell > 0
}


def config(**overrides: Any) -> SourceConfig:
    """The test street; ``overrides`` replace top-level fields (rules merge into FAST_RULES)."""
    data: dict[str, Any] = {
        "id": "cam-1",
        "zones": ZONES,
        "context": {"dwell_s": 5},
        "rules": {**FAST_RULES, **overrides.pop("rules", {})},
    }
    data.update(overrides)
    return source_config(data)


@dataclass(frozen=True)
class Obj:
    """One box in one frame; ``tid`` -1 means untracked."""

    name: str
    box: tuple[float, float, float, float]
    conf: float = 0.8
    tid: int = -1


def on_ground(name: str, x: float, y: float, size: float = 40, **kw: Any) -> Obj:
    """An object whose bottom centre (ground point) is at (x, y)."""
    return Obj(name, (x - size / 2, y - size, x + size / 2, y), **kw)


def centred(name: str, x: float, y: float, size: float = 40, **kw: Any) -> Obj:
    return Obj(name, (x - size / 2, y - size / 2, x + size / 2, y + size / 2), **kw)


def detections(objs: Sequence[Obj], names: Sequence[str] = NAMES) -> Detections:
    if not objs:
        return Detections.empty(names).with_track_ids(np.zeros(0, np.int64))
    return Detections.from_arrays(
        [o.box for o in objs],
        [o.conf for o in objs],
        [list(names).index(o.name) for o in objs],
        names,
        [o.tid for o in objs],
    )


_BLANK = np.zeros((H, W, 3), np.uint8)


def frame(
    index: int, t: datetime, gps: GeoPoint | None = None, image: Any = None, full: Any = None
) -> Frame:
    img = _BLANK if image is None else image
    meta = FrameMeta("cam-1", index, float(index), t, img.shape[1], img.shape[0], gps)
    return Frame(img, meta, full)


Timeline = Iterable[tuple[float, Sequence[Obj]]]


def steady(objs: Sequence[Obj], seconds: float, step: float = 1.0, start: float = 0.0) -> Timeline:
    """The same objects in every frame from ``start`` to ``start + seconds`` inclusive."""
    n = round(seconds / step)
    return [(start + i * step, objs) for i in range(n + 1)]


def simulate(
    cfg: SourceConfig,
    timeline: Timeline,
    *,
    start: datetime = MONDAY_9AM,
    names: Sequence[str] = NAMES,
    store: EvidenceStore | None = None,
    gps: Callable[[float], GeoPoint | None] | None = None,
    image: Any = None,
    full: Any = None,
) -> list[Incident]:
    """Run a timeline through a fresh engine; the final state of every incident, opening order."""
    engine = RulesEngine(cfg, store=store)
    final: dict[str, Incident] = {}
    for i, (s, objs) in enumerate(timeline):
        f = frame(i, start + timedelta(seconds=s), gps(s) if gps else None, image, full)
        for inc in engine.process(f, detections(objs, names)):
            final[inc.id] = inc
    for inc in engine.close_all():
        final[inc.id] = inc
    return list(final.values())


def fired(incidents: Sequence[Incident]) -> list[str]:
    """The rules that fired, one per incident, in opening order."""
    return [inc.rule for inc in incidents]
