"""The camera watchdog's verdicts from a heartbeat row, one case per line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from serving.db.models import CameraRuntime
from serving.workers.cameras import unhealthy
from tests.serving.helpers import make_settings

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
MB = 1024 * 1024


def _row(**values: object) -> CameraRuntime:
    base: dict[str, object] = {
        "camera_id": 1,
        "state": "online",
        "beat_at": NOW - timedelta(seconds=1),
        "last_frame_time": NOW - timedelta(seconds=1),
        "abandoned_readers": 0,
        "rss_bytes": 300 * MB,
    }
    return CameraRuntime(**(base | values))


LAUNCHED = NOW - timedelta(seconds=100)


@pytest.mark.parametrize(
    ("row", "launched_at", "verdict"),
    [
        (_row(), LAUNCHED, None),
        (
            _row(beat_at=NOW - timedelta(seconds=31)),
            LAUNCHED,
            "no report for 31 s: the worker is hung",
        ),
        # a fresh launch: the old worker's last report does not count as this one's silence
        (_row(beat_at=NOW - timedelta(seconds=300)), NOW - timedelta(seconds=5), None),
        (
            _row(beat_at=NOW - timedelta(seconds=300)),
            NOW - timedelta(seconds=40),
            "no report for 40 s",
        ),
        # the old worker's figures are not judged against a new one
        (
            _row(beat_at=NOW - timedelta(seconds=10), rss_bytes=9999 * MB),
            NOW - timedelta(seconds=5),
            None,
        ),
        (_row(abandoned_readers=1), LAUNCHED, "a stream reader is stuck inside the decoder"),
        (_row(rss_bytes=2049 * MB), LAUNCHED, "the worker uses 2049 MB, over camera_max_rss_mb"),
        (_row(last_frame_time=NOW - timedelta(seconds=61)), LAUNCHED, "the pipeline is stuck"),
        # offline streams analyse nothing: that is the stream's business, not a stuck pipeline
        (_row(state="offline", last_frame_time=NOW - timedelta(hours=1)), LAUNCHED, None),
        (_row(state="stopped", beat_at=NOW - timedelta(hours=1)), LAUNCHED, None),
    ],
)
def test_verdicts(
    row: CameraRuntime, launched_at: datetime, verdict: str | None, tmp_path: Path
) -> None:
    settings = make_settings("sqlite://", tmp_path)
    found = unhealthy(row, launched_at, settings, NOW)
    if verdict is None:
        assert found is None
    else:
        assert found is not None and verdict in found
