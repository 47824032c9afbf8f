"""A camera's sub-stream analysed with evidence from its main stream, over a real RTSP server:
frames, the fallback to the main stream when the sub-stream fails, and back."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from capture_helpers import RtspRig, encode_pattern
from test_capture_rtsp import FAST

from detection.capture import LiveSource, open_source
from detection.capture.substream import SubStreamSource
from tests.conftest import wait_until

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]

MAIN, SUB = (128, 96), (64, 48)
# Silence before the fallback: longer than a loaded machine's pauses in a working sub-stream,
# short enough to keep the test quick.
FALLBACK_S = 5.0


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspRig]:
    folder = tmp_path_factory.mktemp("substream")
    main = encode_pattern(folder / "main.mp4", size="x".join(map(str, MAIN)))
    sub = encode_pattern(folder / "sub.mp4", size="x".join(map(str, SUB)))
    with RtspRig(folder, main, {"sub": sub}).running() as rig:
        yield rig


def live(url: str) -> LiveSource:
    source = open_source(url, source_id="cam", fps=2.0, **FAST)
    assert isinstance(source, LiveSource)
    return source


def size(image: npt.NDArray[np.uint8]) -> tuple[int, int]:
    return image.shape[1], image.shape[0]


def test_sub_stream_frames_carry_the_main_frame_and_fall_back_when_it_fails(
    camera: RtspRig,
) -> None:
    with SubStreamSource(
        live(camera.url()), live(camera.url(path="sub")), fallback_after_s=FALLBACK_S
    ) as source:
        wait_until(lambda: camera_frame_has_full(source), "a frame with its main twin")
        assert (source.analysing, source.status().warning) == ("detect", None)

        camera.stop_other("sub")
        wait_until(lambda: size(next(source).image) == MAIN, "the fallback")
        assert source.analysing == "main"
        warning = source.status().warning or ""
        assert warning.startswith(f"detection sub-stream {camera.url(path='sub')} failed")
        assert warning.endswith("analysing the main stream")

        camera.start_other("sub")
        wait_until(lambda: size(next(source).image) == SUB, "the sub-stream again")
        assert source.analysing == "detect"


def test_evidence_comes_from_the_sub_stream_while_the_main_stream_is_down(
    camera: RtspRig,
) -> None:
    with SubStreamSource(live(camera.url()), live(camera.url(path="sub"))) as source:
        next(source)
        camera.stop_publisher()
        wait_until(
            lambda: (
                next(source).full is None and "main stream offline" in str(source.status().warning)
            ),
            "frames without a main twin",
        )
        assert size(next(source).image) == SUB
    camera.start_publisher()


def camera_frame_has_full(source: SubStreamSource) -> bool:
    frame = next(source)
    return size(frame.image) == SUB and frame.full is not None and size(frame.full) == MAIN
