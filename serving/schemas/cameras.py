"""Cameras (registry, live status, zones), photo ingest results and video analysis jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from serving.db.models import CameraState, JobStatus
from serving.schemas import OutSchema, Schema
from serving.schemas.common import Lat, Location, Lon
from serving.schemas.evidence import BlobOut
from serving.schemas.incidents import IncidentOut

Code = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
        description="Source id of the camera's incidents and squad routing, e.g. 'cam-lsw-01'.",
    ),
]
StreamUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1000,
        description="rtsp://, rtsps://, http:// or https:// stream; never shown back in full.",
    ),
]
RulesConfigIn = Annotated[
    dict[str, Any],
    Field(
        description="Rules config of the camera (detection.rules SourceConfig without 'id': "
        "zones, masks, rules, ...); validated against the taxonomy.",
    ),
]
Transport = Literal["tcp", "udp"]


def _live_scheme(url: str) -> str:
    scheme = url.partition("://")[0].lower()
    if scheme not in {"rtsp", "rtsps", "http", "https"} or "://" not in url:
        raise ValueError("must be an rtsp://, rtsps://, http:// or https:// URL")
    return url


DetectUrl = Annotated[
    str | None,
    Field(
        max_length=1000,
        description="Optional low-resolution sub-stream analysed instead of stream_url (which "
        "still gives full-resolution evidence); the main stream is analysed while it fails.",
    ),
]


class CameraIn(Schema):
    code: Code
    name: str = Field(default="", max_length=120, description="Human name of the place.")
    stream_url: StreamUrl
    detect_url: DetectUrl = None
    rtsp_transport: Transport = Field(default="tcp", description="RTP transport of rtsp URLs.")
    lat: Lat | None = None
    lon: Lon | None = None
    road: str | None = Field(default=None, max_length=100, description="Road it watches.")
    enabled: bool = Field(default=True, description="Whether a stream worker watches it.")
    config: RulesConfigIn = Field(default_factory=dict)

    _url = field_validator("stream_url")(_live_scheme)

    @field_validator("detect_url")
    @classmethod
    def _detect(cls, url: str | None) -> str | None:
        return None if url is None else _live_scheme(url)


class CameraPatch(Schema):
    """Fields to change; omitted ones keep their value."""

    name: str | None = Field(default=None, max_length=120, description="Human name.")
    stream_url: StreamUrl | None = None
    detect_url: DetectUrl = Field(default=None, description="null removes the sub-stream.")
    rtsp_transport: Transport | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    road: str | None = Field(default=None, max_length=100, description="Road it watches.")
    enabled: bool | None = None
    config: RulesConfigIn | None = None

    @field_validator("stream_url", "detect_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return None if url is None else _live_scheme(url)


class ZonesIn(Schema):
    """The zone editor's result: replaces the camera's zones (and the size they were drawn on)."""

    zones: list[dict[str, Any]] = Field(
        max_length=256, description="Zones as in the rules config: id, type, polygon, ..."
    )
    frame_size: tuple[int, int] | None = Field(
        default=None, description="[width, height] of the snapshot the polygons were drawn on."
    )


class CameraOut(OutSchema):
    id: int
    code: str
    name: str
    stream_url: str = Field(description="With its password and secret parameters redacted.")
    detect_url: str | None = Field(description="The sub-stream analysed, redacted; None: main.")
    rtsp_transport: str
    lat: float | None
    lon: float | None
    road: str | None
    enabled: bool
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CameraStatus(Schema):
    camera_id: int
    state: CameraState
    last_frame_time: datetime | None = Field(description="Wall time of the newest frame read.")
    frames_analysed: int = Field(ge=0, description="Frames run through detector and rules.")
    reconnects: int = Field(ge=0, description="Stream reconnections since the worker started.")
    restarts: int = Field(ge=0, description="Worker restarts after a crash (watchdog).")
    last_error: str | None = Field(description="Why it last went offline or crashed (redacted).")
    analysing: Literal["main", "detect"] | None = Field(
        default=None, description="Which stream is analysed: the sub-stream or the main one."
    )
    decode: Literal["all", "keyframes"] | None = Field(
        default=None, description="Frames decoded on the analysed stream: all or keyframes only."
    )
    warning: str | None = Field(
        default=None,
        description="The camera works but not as configured: keyframes too sparse for the rate, "
        "the sub-stream failing (main stream analysed), the main stream down (evidence from the "
        "sub-stream).",
    )


class JobOut(OutSchema):
    id: int
    kind: str
    status: JobStatus
    source_id: str
    video_name: str
    progress: float = Field(
        ge=0, le=1, description="Share of the video analysed; 1 once a whole video is."
    )
    frames: int = Field(description="Frames analysed so far.")
    expected_frames: int | None = Field(
        description="About how many frames the whole video gives at the sampling rate."
    )
    duration_s: float | None = Field(
        description="The video's duration by its container; None where it does not say."
    )
    analysed_s: float | None = Field(
        description="Timestamp (s) of the last frame analysed; short of duration_s when partial."
    )
    incidents: int
    error: str | None = Field(
        description="Why the job failed, or (partial) where and why the video ended early."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    video_removed_at: datetime | None = Field(
        description="Set when retention removed the stored video; the job's results stay."
    )


class PhotoOut(OutSchema):
    photo: BlobOut
    created: bool = Field(description="False: these bytes were posted before (same incidents).")
    location: Location | None = Field(description="From the photo's EXIF GPS, if it has one.")
    incidents: list[IncidentOut]
