"""A camera that changes resolution mid-stream, over a real RTSP server (its own module, so its
own rig: the publisher loops a file that switches sizes)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest
from capture_helpers import FFMPEG, RtspRig, encode_pattern
from test_capture_rtsp import FAST

from detection.capture import LiveSource, StreamState, open_source
from tests.conftest import wait_until

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


@pytest.fixture(scope="module")
def resizing_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspRig]:
    """A camera that switches between 64x48 and 96x64 every 2 s (one file, looped)."""
    folder = tmp_path_factory.mktemp("resize")
    parts = [encode_pattern(folder / f"{s}.ts", size=s) for s in ("64x48", "96x64")]
    (folder / "parts.txt").write_text("".join(f"file '{p}'\n" for p in parts))
    assert FFMPEG
    video = folder / "resizing.mkv"
    command = [FFMPEG, "-nostdin", "-loglevel", "error", "-f", "concat", "-safe", "0"]
    subprocess.run(
        [*command, "-i", str(folder / "parts.txt"), "-c", "copy", str(video)], check=True
    )
    with RtspRig(folder, video).running() as rig:
        yield rig


def test_a_resolution_change_mid_stream_is_reported_and_frames_keep_coming(
    resizing_rig: RtspRig,
) -> None:
    source = open_source(resizing_rig.url(), source_id="cam", **FAST)
    assert isinstance(source, LiveSource)
    with source:
        sizes = set()

        def both_sizes_seen() -> bool:
            frame = next(source)
            sizes.add((frame.meta.width, frame.meta.height))
            assert frame.image.shape[:2] == (frame.meta.height, frame.meta.width)
            return len(sizes) == 2

        wait_until(both_sizes_seen, lambda: f"frames of both sizes; seen {sizes}")
        status = source.status()
    assert sizes == {(64, 48), (96, 64)}
    assert status.resolution_changes >= 1
    assert status.warning is not None
    assert re.search(r"resolution changed from (64x48 to 96x64|96x64 to 64x48)", status.warning)
    assert status.state is StreamState.ONLINE
