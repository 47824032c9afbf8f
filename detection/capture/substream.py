"""A camera analysed on its low-resolution sub-stream, with evidence from its main stream.

NVRs and cameras offer a second, small stream for analytics (Frigate's ``detect`` role), far
cheaper to decode than the 1080p one (docs/benchmarks/live.md). :class:`SubStreamSource` analyses
the sub-stream and gives each frame the main stream's newest frame of about the same moment as
``Frame.full``, so evidence keeps full resolution. When the sub-stream fails while the main stream
works, the main stream is analysed instead (with a warning) until the sub-stream delivers again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal

from detection.capture.base import FrameSource
from detection.capture.live import LiveSource, StreamState, StreamStatus
from detection.core import Frame

log = logging.getLogger(__name__)

POLL_S = 0.5  # how often a waiting consumer looks at the other stream's health
Analysed = Literal["detect", "main"]


class SubStreamSource(FrameSource):
    """Frames of ``detect`` with ``full`` from ``main``; the main stream's when ``detect`` fails.

    ``fallback_after_s``: how long the sub-stream may go without frames before the main stream is
    analysed. ``max_skew_s``: the most a main frame may be older or newer than the analysed one
    to serve as its evidence (stationary street disorder barely moves in that time).
    """

    is_live = True

    def __init__(
        self,
        main: LiveSource,
        detect: LiveSource,
        *,
        fallback_after_s: float = 10.0,
        max_skew_s: float = 1.5,
    ) -> None:
        super().__init__(detect.source_id, detect.uri)
        self.main, self.detect = main, detect
        self.fallback_after_s = fallback_after_s
        self.max_skew_s = max_skew_s
        self.analysing: Analysed = "detect"
        self._detect_seen = time.monotonic()
        self._switched_at = datetime.now(UTC)

    def __next__(self) -> Frame:
        while True:
            self._choose()
            source = self.detect if self.analysing == "detect" else self.main
            frame = source.next_frame(POLL_S)
            if frame is None:
                continue
            if source is self.main:
                return frame
            self._detect_seen = time.monotonic()
            return self._with_full(frame)

    def status(self) -> StreamStatus:
        """The analysed stream's status; ``warning`` says when that is not the sub-stream or the
        main stream (for evidence) is down; ``stuck_readers`` counts both streams'."""
        detect, main = self.detect.status(), self.main.status()
        analysed = detect if self.analysing == "detect" else main
        warning = analysed.warning
        if self.analysing == "main":
            warning = (
                f"detection sub-stream {detect.uri} failed ({detect.last_error or 'no frames'}): "
                "analysing the main stream"
            )
        elif main.state is not StreamState.ONLINE:
            warning = f"main stream offline ({main.last_error}): evidence from the sub-stream"
        return analysed.model_copy(
            update={"warning": warning, "stuck_readers": detect.stuck_readers + main.stuck_readers}
        )

    def close(self) -> None:
        self.detect.close()
        self.main.close()

    def _choose(self) -> None:
        """Switch to the main stream when the sub-stream is silent too long, and back."""
        if self.analysing == "main":
            fresh = self.detect.newest()
            if fresh is not None and fresh.meta.wall_time > self._switched_at:
                log.info("%s: sub-stream back, analysing it again", self.detect.uri)
                self.analysing = "detect"
                self._detect_seen = time.monotonic()
            return
        silent = time.monotonic() - self._detect_seen
        if silent >= self.fallback_after_s and self.main.status().state is StreamState.ONLINE:
            log.warning(
                "%s: no frame from the sub-stream for %.0f s; analysing the main stream %s",
                self.detect.uri,
                silent,
                self.main.uri,
            )
            self.analysing = "main"
            self._switched_at = datetime.now(UTC)

    def _with_full(self, frame: Frame) -> Frame:
        full = self.main.newest()
        if full is None:
            return frame
        skew = abs((full.meta.wall_time - frame.meta.wall_time).total_seconds())
        if skew > self.max_skew_s:
            return frame
        return replace(frame, full=full.image)
