"""Live streams (RTSP, HTTP): a reader that survives outages and always hands out the newest frame.

Three threads' worth of roles, one lock:

* a *worker* per connection opens the stream (PyAV, :mod:`detection.capture.decode`) and puts
  frames into a one-frame slot (a newer frame replaces an untaken one, which counts as dropped: a
  slow consumer sees fresh frames, never a backlog). With ``fps`` set it decodes and converts only
  frames that are due (see ``LiveConfig.decode``);
* the *supervisor* owns the connection life cycle: it starts workers, and from outside the blocking
  read watches for "no new packet for ``stall_timeout_s``". FFmpeg's read timeout covers most dead
  streams, but a read stuck inside FFmpeg cannot be interrupted or safely closed from another
  thread, so a stalled worker is *abandoned* (its frames are ignored and it closes its own
  connection whenever the read returns) and a fresh connection is opened after an exponential,
  jittered backoff;
* the *consumer* iterates over the frames the worker lets through (at most ``fps``) and keeps
  waiting across outages until the source is closed or gives up.

Every message names the stream by its redacted URL only.
"""

from __future__ import annotations

import logging
import math
import random
import socket
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal, Self
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from detection.backoff import backoff_s
from detection.capture.base import FrameSource
from detection.capture.decode import DecodeMode, StreamOpenError, StreamReader
from detection.capture.redact import redact_url
from detection.core import Frame, FrameMeta
from detection.errors import SourceError

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
_JOIN_TIMEOUT_S = 2.0  # close() waits this long for threads; a stuck read() is left to finish


class StreamState(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"
    CLOSED = "closed"


class Backoff(BaseModel):
    """Delay between reconnect attempts: ``initial_s * factor**failures``, capped, with jitter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_s: float = Field(
        1.0, gt=0, le=600, description="Delay before reconnecting after a working stream drops."
    )
    max_s: float = Field(30.0, gt=0, le=3600, description="Upper bound on any delay.")
    factor: float = Field(
        2.0, ge=1, le=10, description="Growth of the delay after each failed attempt in a row."
    )
    jitter: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Random ± fraction of the delay, so cameras behind one switch do not "
        "reconnect in lockstep.",
    )

    @model_validator(mode="after")
    def _cap_not_below_initial(self) -> Self:
        if self.max_s < self.initial_s:
            raise ValueError(f"max_s ({self.max_s}) must be >= initial_s ({self.initial_s})")
        return self

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after ``failures`` failed attempts in a row (0: it had worked)."""
        base = backoff_s(self.initial_s, failures, self.max_s, self.factor)
        return min(self.max_s, base * (1.0 + rng.uniform(-self.jitter, self.jitter)))


class LiveConfig(BaseModel):
    """How a live stream is opened, watched and reconnected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Timeout of the TCP reachability probe and of FFmpeg's open.",
    )
    read_timeout_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="FFmpeg's read timeout: a read waiting longer fails and the stream is "
        "reopened.",
    )
    stall_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Watchdog: with no new frame for this long the reader is presumed stuck, "
        "abandoned and the stream reopened (also bounds open time beyond open_timeout_s).",
    )
    give_up_after_s: float | None = Field(
        None,
        gt=0,
        le=30 * 24 * 3600,
        description="After this long without frames the source closes and iteration raises "
        "SourceError; None retries forever.",
    )
    fail_fast: bool = Field(
        True,
        description="Raise SourceError from open_source when the first connection fails; "
        "False starts offline and keeps retrying (a service starting before its camera).",
    )
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp", description="RTP transport for rtsp:// URLs."
    )
    decode: DecodeMode = Field(
        DecodeMode.AUTO,
        description="Which frames are decoded when fps is set: 'keyframes' only (a fraction of "
        "the CPU, docs/benchmarks/live.md; needs a keyframe interval no longer than 1/fps), 'all', "
        "or 'auto' (keyframes while the stream's keyframe interval allows fps, else all, with a "
        "warning).",
    )
    ffmpeg_options: dict[str, str] = Field(
        default_factory=dict,
        max_length=32,
        description="Extra FFmpeg demuxer options, e.g. {'analyzeduration': '500000'} to open "
        "faster.",
    )
    backoff: Backoff = Field(default_factory=Backoff, description="Reconnect delays.")

    @field_validator("ffmpeg_options")
    @classmethod
    def _no_separators(cls, options: dict[str, str]) -> dict[str, str]:
        for key, value in options.items():
            if any(c in f"{key}{value}" for c in "|;") or not key:
                raise ValueError(
                    f"ffmpeg option {key!r}={value!r} must be non-empty, no '|' or ';'"
                )
        return options


class StreamStatus(BaseModel):
    """A snapshot of a live source's health, for a service to poll and serve as JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_id: str = Field(description="The source's id.")
    uri: str = Field(description="The stream URL with its password redacted.")
    state: StreamState = Field(description="connecting, online, offline or closed.")
    last_frame_time: datetime | None = Field(description="Wall time of the newest frame read.")
    offline_since: datetime | None = Field(description="When frames stopped; None while online.")
    frames_read: int = Field(ge=0, description="Frames read from the stream since opening.")
    frames_dropped: int = Field(ge=0, description="Frames replaced by newer ones before use.")
    reconnects: int = Field(ge=0, description="Successful reconnections after the first one.")
    last_error: str | None = Field(description="Why the stream last went offline (redacted).")
    decode: DecodeMode | None = Field(
        None, description="Decoding in effect on the current connection: all or keyframes."
    )
    keyframe_interval_s: float | None = Field(
        None, ge=0, description="Measured time between keyframes (the GOP), when known."
    )
    warning: str | None = Field(
        None,
        description="What works but not as configured: decoding that differs from the mode "
        "asked for, the latest resolution change.",
    )
    resolution: tuple[int, int] | None = Field(
        None, description="Width, height of the newest frame."
    )
    resolution_changes: int = Field(
        0, ge=0, description="Times the stream changed resolution since opening."
    )
    stuck_readers: int = Field(
        0,
        ge=0,
        description="Abandoned readers still blocked inside FFmpeg: only ending the process "
        "frees them (a service's worker process is killed and restarted for it).",
    )


class LiveSource(FrameSource):
    """An RTSP/HTTP stream read by a background thread; see the module docstring.

    ``frame_index`` counts frames received since opening (across reconnects, so gaps mean skipped
    or dropped frames), ``pts`` is seconds since opening and ``wall_time`` the clock when the frame
    was decoded.
    Poll :meth:`status` for health.
    """

    is_live = True

    def __init__(
        self,
        url: str,
        *,
        source_id: str,
        fps: float | None = None,
        config: LiveConfig | None = None,
    ) -> None:
        super().__init__(source_id, redact_url(url))
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps}")
        self.config = config or LiveConfig()
        self._url = url
        self._interval = 1.0 / fps if fps else 0.0
        self._rng = random.Random()
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        # Shared state below is guarded by _cond.
        self._state = StreamState.CONNECTING
        self._generation = 0  # bumped to abandon the current worker
        self._ended: tuple[int, str] | None = None  # (generation, error) of a worker that ended
        self._latest: Frame | None = None
        self._latest_seq = self._taken_seq = 0
        self._conn_frame_mono: float | None = None  # newest frame of the current connection
        self._frames_read = self._frames_dropped = self._reconnects = 0
        self._ever_online = False
        self._last_frame_time: datetime | None = None
        self._down_since_mono = self._t0
        self._offline_since: datetime | None = None
        self._last_error: str | None = None
        self._failure: SourceError | None = None
        self._reader: StreamReader | None = None
        self._size: tuple[int, int] | None = None
        self._resolution_changes = 0
        self._resized: str | None = None  # the latest resolution change, for the status
        self._worker: threading.Thread | None = None
        self._abandoned: list[threading.Thread] = []
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"shirong-live-{source_id}", daemon=True
        )
        self._supervisor.start()
        if self.config.fail_fast:
            self._await_first_connection()

    # -- consumer side -------------------------------------------------------------------------

    def __next__(self) -> Frame:
        """The newest frame not yet returned (the worker keeps them at least ``1/fps`` apart).

        Blocks across outages until frames come back, the source is closed (StopIteration) or it
        gives up (SourceError).
        """
        frame = self.next_frame(None)
        assert frame is not None  # no timeout: a frame or an exception
        return frame

    def next_frame(self, timeout_s: float | None) -> Frame | None:
        """As ``next()``, but None once ``timeout_s`` passes without a new frame."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._stop.is_set() or self._due_frame() is not None, timeout=timeout_s
            )
            if self._failure is not None:
                raise self._failure
            if self._stop.is_set():
                raise StopIteration
            frame = self._due_frame()
            if frame is not None:
                self._taken_seq = self._latest_seq
        return frame

    def newest(self) -> Frame | None:
        """The newest frame, taken or not, without taking it (e.g. for evidence)."""
        with self._cond:
            return self._latest

    def status(self) -> StreamStatus:
        with self._cond:
            reader = self._reader
            return StreamStatus(
                source_id=self.source_id,
                uri=self.uri,
                state=self._state,
                last_frame_time=self._last_frame_time,
                offline_since=self._offline_since,
                frames_read=self._frames_read,
                frames_dropped=self._frames_dropped,
                reconnects=self._reconnects,
                last_error=self._last_error,
                decode=reader.mode if reader else None,
                keyframe_interval_s=reader.gop_s if reader else None,
                warning="; ".join(w for w in (reader and reader.warning, self._resized) if w)
                or None,
                resolution=self._size,
                resolution_changes=self._resolution_changes,
                stuck_readers=sum(t.is_alive() for t in self._abandoned),
            )

    def close(self) -> None:
        with self._cond:
            self._stop.set()
            self._state = StreamState.CLOSED
            self._generation += 1
            self._cond.notify_all()
        for thread in (self._supervisor, self._worker):
            if thread is not None and thread is not threading.current_thread():
                thread.join(_JOIN_TIMEOUT_S)

    def _due_frame(self) -> Frame | None:
        """The slot's frame if it is new (the worker only puts due frames there); caller holds
        ``_cond``."""
        if self._latest is None or self._latest_seq == self._taken_seq:
            return None
        return self._latest

    def _await_first_connection(self) -> None:
        # Longer than the watchdog's connect deadline, which ends every attempt before this.
        budget = 2 * self.config.open_timeout_s + self.config.stall_timeout_s + 1.0
        with self._cond:
            self._cond.wait_for(
                lambda: self._ever_online or self._state is StreamState.OFFLINE, timeout=budget
            )
            online, error = self._ever_online, self._last_error
        if not online:
            self.close()
            raise SourceError(f"cannot open live stream {self.uri}: {error or 'timed out'}")

    # -- supervisor ----------------------------------------------------------------------------

    def _supervise(self) -> None:
        failures = 0
        while not self._stop.is_set():
            frames_before = self._frames_read
            self._run_connection()
            if self._stop.is_set():
                return
            failures = 0 if self._frames_read > frames_before else failures + 1
            if self._should_give_up():
                self._give_up()
                return
            delay = self.config.backoff.delay(failures, self._rng)
            log.debug("live stream %s: reconnecting in %.1f s", self.uri, delay)
            if self._stop.wait(delay):
                return

    def _run_connection(self) -> None:
        """Start a worker and watch it until it ends, stalls, or the source closes."""
        cfg = self.config
        with self._cond:
            if self._stop.is_set():  # closed since the supervisor last looked
                return
            self._generation += 1
            generation = self._generation
            self._ended = None
            self._conn_frame_mono = None
            self._state = StreamState.CONNECTING
            self._cond.notify_all()
        opened_at = time.monotonic()
        self._worker = threading.Thread(
            target=self._read_stream, args=(generation,), name=self._supervisor.name, daemon=True
        )
        self._worker.start()
        with self._cond:
            while not self._stop.is_set():
                if self._ended is not None:
                    self._go_offline(self._ended[1])
                    return
                newest = self._conn_frame_mono
                deadline = (
                    opened_at + 2 * cfg.open_timeout_s + cfg.stall_timeout_s  # probe + open
                    if newest is None
                    else newest + cfg.stall_timeout_s
                )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._generation += 1  # abandon the worker: its frames and end are ignored
                    self._abandoned = [t for t in self._abandoned if t.is_alive()]
                    self._abandoned.append(self._worker)
                    self._go_offline(
                        f"no frame for {cfg.stall_timeout_s:g} s (reader stalled); reopening"
                    )
                    return
                self._cond.wait(remaining)

    def _go_offline(self, error: str) -> None:
        """Record an outage; caller holds ``_cond``."""
        dropped = self._state is StreamState.ONLINE
        if dropped:
            self._down_since_mono = time.monotonic()
        if self._offline_since is None:
            self._offline_since = datetime.now(UTC)
        # Warn when the stream drops or the reason changes, not on every retry of a long outage.
        level = logging.WARNING if dropped or error != self._last_error else logging.DEBUG
        self._state = StreamState.OFFLINE
        self._last_error = error
        self._cond.notify_all()
        log.log(level, "live stream %s offline: %s", self.uri, error)

    def _should_give_up(self) -> bool:
        limit = self.config.give_up_after_s
        return limit is not None and time.monotonic() - self._down_since_mono >= limit

    def _give_up(self) -> None:
        with self._cond:
            if self._stop.is_set():  # closed meanwhile: a plain end, not a failure
                return
            message = (
                f"gave up on live stream {self.uri} after {self.config.give_up_after_s:g} s "
                f"without frames; last error: {self._last_error}"
            )
            self._failure = SourceError(message)
            self._last_error = message
            self._state = StreamState.CLOSED
            self._stop.set()
            self._cond.notify_all()
        log.error("%s", message)

    # -- worker --------------------------------------------------------------------------------

    def _read_stream(self, generation: int) -> None:
        reader: StreamReader | None = None
        try:
            error = probe(self._url, self.config.open_timeout_s)
            if error is None:
                reader = self._open_reader()
                error = self._pump(reader, generation)
        except StreamOpenError as exc:
            error = f"the server answered but the stream did not open: {exc}"
        finally:
            if reader is not None:
                reader.close()
        if error is not None:
            with self._cond:
                if generation == self._generation:
                    self._ended = (generation, error)
                    self._cond.notify_all()

    def _open_reader(self) -> StreamReader:
        cfg = self.config
        reader = StreamReader(
            self._url,
            mode=cfg.decode,
            interval_s=self._interval,
            open_timeout_s=cfg.open_timeout_s,
            read_timeout_s=cfg.read_timeout_s,
            options=self._demuxer_options(),
        )
        with self._cond:
            self._reader = reader
        return reader

    def _pump(self, reader: StreamReader, generation: int) -> str | None:
        """Read until failure (returns why) or until abandoned/closed (returns None)."""
        for packet in reader.packets():
            if not self._received(generation):
                return None
            image = reader.image(packet)
            if image is not None and not self._publish(generation, image):
                return None
        return None if self._stop.is_set() else reader.ended_error()

    def _received(self, generation: int) -> bool:
        """A packet arrived (the stream is alive); False once this worker is abandoned."""
        with self._cond:
            if generation != self._generation or self._stop.is_set():
                return False
            if self._conn_frame_mono is None:
                self._mark_online()
            self._conn_frame_mono = time.monotonic()
            self._frames_read += 1
            return True

    def _publish(self, generation: int, image: npt.NDArray[np.uint8]) -> bool:
        """Put a frame in the slot; False once this worker is abandoned or the source closed."""
        now = time.monotonic()
        with self._cond:
            if generation != self._generation or self._stop.is_set():
                return False
            wall_time = datetime.now(UTC)
            height, width = image.shape[:2]
            self._note_size(width, height)
            meta = FrameMeta(
                self.source_id, self._frames_read - 1, now - self._t0, wall_time, width, height
            )
            if self._latest_seq > self._taken_seq:
                self._frames_dropped += 1
            self._latest = Frame(image, meta)
            self._latest_seq += 1
            self._last_frame_time = wall_time
            self._cond.notify_all()
        return True

    def _note_size(self, width: int, height: int) -> None:
        """Note a resolution change mid-stream for the status; caller holds ``_cond``."""
        if self._size is not None and self._size != (width, height):
            self._resolution_changes += 1
            old = "x".join(map(str, self._size))
            # Shown in the status; the pipeline logs the change as it restarts the tracks.
            self._resized = f"resolution changed from {old} to {width}x{height} (tracks restarted)"
        self._size = (width, height)

    def _mark_online(self) -> None:
        """First packet of a connection; caller holds ``_cond``. A frame from before an outage
        that nobody took is stale now: it is dropped, so the next frame returned is new."""
        if self._ever_online:
            self._reconnects += 1
        if self._latest_seq > self._taken_seq:
            self._frames_dropped += 1
            self._taken_seq = self._latest_seq
        self._ever_online = True
        self._state = StreamState.ONLINE
        self._offline_since = None
        log.info("live stream %s online", self.uri)

    def _demuxer_options(self) -> dict[str, str]:
        scheme = urlsplit(self._url).scheme.lower()
        transport = {"rtsp_transport": self.config.rtsp_transport} if scheme == "rtsp" else {}
        return {**transport, **self.config.ffmpeg_options}


def probe(url: str, timeout_s: float) -> str | None:
    """TCP-connect to the URL's server: None if it accepts, else why not ("connection refused").

    Asked before a stream is opened (PyAV) or an image URL fetched (OpenCV, whose failed open
    gives no reason): an unreachable camera is told apart from a wrong path, password or codec.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or DEFAULT_PORTS[parts.scheme.lower()]
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return f"cannot reach {host}:{port}: {reason}"
