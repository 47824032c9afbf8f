"""Frame sampling by target rate: keep a file frame when its timestamp reaches the next due time."""

from __future__ import annotations

import math

# Container timestamps are float milliseconds turned into seconds (0.30000000000000004): a frame
# this close to its due time counts as on time.
_EPS = 1e-6


class FpsSampler:
    """Decides per frame timestamp whether to keep it so that the kept frames run at about ``fps``.

    Due times advance by exactly ``1/fps`` (no drift: a 25 fps video sampled at 10 fps keeps 10
    frames a second, not every third frame), and re-synchronise after a gap in the timestamps or
    when they jump back.
    ``fps=None`` keeps every frame.
    """

    def __init__(self, fps: float | None) -> None:
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps}")
        self.fps = fps
        self._interval = 0.0 if fps is None else 1.0 / fps
        self._due = -math.inf

    def keep(self, pts: float, early_s: float = 0.0) -> bool:
        """True when the frame at ``pts`` seconds should be kept (call once per frame, in order).

        ``early_s`` keeps a frame up to that much before its due time (frames that come rarely,
        such as keyframes, would otherwise miss by a hair and wait a whole interval).
        """
        if self.fps is None:
            return True
        rewound = pts < self._due - 2 * self._interval  # a live stream restarted its clock
        if pts + _EPS + early_s < self._due and not rewound:
            return False
        self._due += self._interval
        if self._due <= pts or rewound:
            self._due = pts + self._interval
        return True
