"""``shirong watch``: source → detector → tracker → rules → incidents.jsonl and evidence files.

Writes ``OUT/incidents.jsonl`` (one incident per line, see ``detection/rules/README.md``) and the
evidence images into ``OUT/evidence/`` (a content-addressed store; incident paths are relative to
it). The loop itself is ``detection.pipeline.watch``, which the service runs too: a long watch
survives bad frames and stream outages (the live source reconnects).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from detection.capture import open_source
from detection.evidence import EvidenceStore
from detection.geo import load_track_or_warn
from detection.pipeline import Locator, assemble, watch
from detection.rules.config import load_config
from detection.rules.output import IncidentLog
from detection.taxonomy import default_taxonomy

log = logging.getLogger(__name__)


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM (service stop) unwinds like Ctrl-C, so open incidents are written out."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_watch(args: argparse.Namespace) -> int:
    taxonomy = default_taxonomy()
    config = load_config(args.config, taxonomy).source(args.source_id)
    out: Path = args.out
    store = EvidenceStore(out / "evidence")
    track = load_track_or_warn(args.gps, tz=config.tz) if args.gps else None
    opts: dict[str, Any] = {}
    if track is not None and track.has_times and not track.has_offsets:
        opts["start_time"] = track.guessed_video_start
    with (
        _terminate_as_exit(),
        open_source(args.source, fps=args.fps, source_id=config.id, **opts) as source,
        IncidentLog(out / "incidents.jsonl") as incidents,
    ):
        fps = args.fps or getattr(source, "native_fps", None) or 10.0
        pipeline = assemble(config, fps=fps, taxonomy=taxonomy, store=store, model=args.model)
        summary = watch(source, pipeline, incidents, locate=Locator(track, source, config))
    if track is not None and summary.located_frames == 0:
        log.warning(
            "GPS track %s gave no position for any frame; incidents have no location", args.gps
        )
    print(
        f"{summary.frames} frames ({summary.failed_frames} failed), {summary.incidents} incidents "
        f"→ {out / 'incidents.jsonl'}"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "watch", help="watch a source and write six-standards incidents with evidence"
    )
    p.add_argument("source", help="image, folder of photos, video file or rtsp/http URL")
    p.add_argument("--config", type=Path, required=True, help="rules config (YAML or JSON)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--model", type=Path, help="ONNX model or detector set .yaml (default: models/default.yaml)"
    )
    p.add_argument("--fps", type=float, help="sample videos and streams at this many frames/s")
    p.add_argument("--gps", type=Path, help="GPS track of a dashcam video (GPX, NMEA or SRT)")
    p.add_argument("--source-id", help="which source of the config (default: its only one)")
    p.set_defaults(func=run_watch)
