"""Live-stream decoding with PyAV: decode only what is analysed.

A 1080p H.264 camera sends 25 frames a second; a service analysing one of them a second wastes
most of its CPU decoding the other 24 and converting them to BGR. OpenCV's capture cannot be told
to skip anything (its FFmpeg options reach the demuxer only), so live streams are read with PyAV:

* every packet is received (the watchdog counts it as life) but only a frame that is *due* by the
  stream's own timestamps (:class:`FpsSampler`, as for video files) is converted to BGR;
* in ``keyframes`` mode only keyframes are decoded, and only when due: a fraction of the cost
  of full decoding (docs/benchmarks/live.md) for a camera whose keyframe interval (GOP) is at
  most the sampling interval;
* ``auto`` (the default) decodes keyframes only while the measured GOP allows the sampling rate
  and falls back to decoding every frame, with a warning, when it does not.

One :class:`StreamReader` is one connection; :class:`detection.capture.live.LiveSource` owns the
reconnects and the watchdog.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from enum import StrEnum

import av
import av.error
import numpy as np
import numpy.typing as npt

from detection.capture.opencv import as_bgr
from detection.capture.redact import redact_text
from detection.capture.sampling import FpsSampler

log = logging.getLogger(__name__)

GOP_TOLERANCE = 1.1  # keyframes this much sparser than the sampling interval still keep up
GOP_CONFIRM = 3  # long keyframe intervals in a row before acting (one lost keyframe is not a GOP)
KEYFRAME_EARLY = 0.25  # share of the sampling interval a keyframe may come before its due time
_NO_FRAME = "no frame within the read timeout ({timeout:g} s) or the stream ended"


class DecodeMode(StrEnum):
    AUTO = "auto"
    ALL = "all"
    KEYFRAMES = "keyframes"


class StreamOpenError(Exception):
    """The server answered but the stream did not open; the message says why (redacted)."""


class StreamReader:
    """One open connection to a live stream, yielding the BGR images that are due.

    ``interval_s`` is the sampling interval (0: every frame is due, so nothing can be skipped).
    :attr:`mode` is the decoding in effect (``all`` or ``keyframes``), :attr:`warning` why it
    differs from the one asked for, :attr:`gop_s` the measured keyframe interval and
    :attr:`decoded` the frames decoded so far.
    """

    def __init__(
        self,
        url: str,
        *,
        mode: DecodeMode,
        interval_s: float,
        open_timeout_s: float,
        read_timeout_s: float,
        options: Mapping[str, str],
    ) -> None:
        self.requested = mode
        self.interval_s = interval_s
        self.read_timeout_s = read_timeout_s
        self.mode = _initial_mode(mode, interval_s)
        self.gop_s: float | None = None
        self.warning: str | None = None
        self.decoded = 0
        self._sampler = FpsSampler(1.0 / interval_s if interval_s > 0 else None)
        self._timed = False  # a packet with a timestamp has been seen
        self._start_grid = False  # the next timestamp starts the sampling grid
        self._last_key: float | None = None
        self._long_gops = 0  # keyframe intervals in a row too long for the sampling rate
        self._container = _open(url, dict(options), (open_timeout_s, read_timeout_s))
        try:
            self._stream = self._container.streams.video[0]
        except IndexError:
            self.close()
            raise StreamOpenError("the stream has no video track") from None
        # One thread per decoder: a host scales by cameras (processes), not by decoder threads,
        # and frame threading would add a frame of latency per thread.
        self._stream.codec_context.thread_count = 1

    def packets(self) -> Iterator[av.Packet]:
        """Video packets as they arrive; ends (returns) when the stream does."""
        try:
            for packet in self._container.demux(self._stream):
                if packet.size:  # demux ends with an empty flush packet
                    yield packet
        except (av.error.FFmpegError, OSError) as exc:
            log.debug("read ended: %s", redact_text(str(exc)))

    def image(self, packet: av.Packet) -> npt.NDArray[np.uint8] | None:
        """Decode ``packet`` if the mode needs it; its BGR image if it is due."""
        t = self._stream_time(packet)
        if packet.is_keyframe and t is not None:
            self._note_keyframe(t)
        elif not packet.is_keyframe and self.mode is DecodeMode.KEYFRAMES:
            return None
        keyframes = self.mode is DecodeMode.KEYFRAMES
        due = self._due(t, KEYFRAME_EARLY * self.interval_s if keyframes else 0.0)
        if keyframes and not due:
            return None  # a keyframe nobody wants needs no decoding: nothing refers to it
        try:
            frames = self._stream.codec_context.decode(packet)
        except av.error.FFmpegError as exc:  # a damaged packet: the next keyframe heals it
            log.debug("undecodable packet: %s", exc)
            return None
        self.decoded += 1
        if not due or not frames:
            return None
        return as_bgr(frames[-1].to_ndarray(format="bgr24"))

    def ended_error(self) -> str:
        return _NO_FRAME.format(timeout=self.read_timeout_s)

    def close(self) -> None:
        self._container.close()

    def _stream_time(self, packet: av.Packet) -> float | None:
        """The packet's timestamp in seconds; None for an untimed one (an RTSP stream's first
        packets may come before its clock is known)."""
        if packet.pts is None or packet.time_base is None:
            return None
        t = float(packet.pts * packet.time_base)
        self._timed = True
        if self._start_grid:  # an untimed first frame was kept: the grid starts here
            self._start_grid = False
            self._sampler.keep(t)
        return t

    def _due(self, t: float | None, early_s: float) -> bool:
        if t is not None:
            return self._sampler.keep(t, early_s)
        if self._timed:
            return self._sampler.fps is None
        self._start_grid = True  # the stream's first frame is due; its clock comes later
        return True

    def _note_keyframe(self, now: float) -> None:
        if self._last_key is not None and now > self._last_key:
            self.gop_s = now - self._last_key
            self._check_gop()
        self._last_key = now

    def _check_gop(self) -> None:
        assert self.gop_s is not None
        if self.mode is not DecodeMode.KEYFRAMES:
            return
        if self.gop_s <= self.interval_s * GOP_TOLERANCE:
            self._long_gops, self.warning = 0, None  # keyframes keep up (again)
            return
        self._long_gops += 1
        if self._long_gops < GOP_CONFIRM:
            return
        reach = f"keyframe-only decoding analyses at most {1 / self.gop_s:.2g} frames/s"
        gap = (
            f"keyframe interval {self.gop_s:.2g} s is longer than the sampling interval "
            f"{self.interval_s:.2g} s: {reach}"
        )
        if self.requested is DecodeMode.AUTO:
            self.mode = DecodeMode.ALL
            gap = f"{gap}; decoding every frame instead (costs more CPU)"
        if gap != self.warning:  # once, not at every keyframe
            self.warning = gap
            log.warning("%s", gap)


def _initial_mode(mode: DecodeMode, interval_s: float) -> DecodeMode:
    if mode is DecodeMode.AUTO:
        return DecodeMode.KEYFRAMES if interval_s > 0 else DecodeMode.ALL
    return mode


def _open(
    url: str, options: dict[str, str], timeout: tuple[float, float]
) -> av.container.InputContainer:
    try:
        return av.open(url, options=options, timeout=timeout)
    except (av.error.FFmpegError, OSError) as exc:
        # PyAV's message ends with the URL, password included.
        reason = getattr(exc, "strerror", None) or str(exc)
        raise StreamOpenError(redact_text(reason)) from None
