"""Service settings, read from ``SHIRONG_*`` environment variables.

A default or empty secret key is refused outside ``SHIRONG_ENV=development`` so that a production
deployment can never run with a key anyone can read in this file.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import (
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from detection.capture import DecodeMode
from detection.errors import STACKED, ConfigError, validation_message
from detection.resources import REPO_ROOT

DEV_SECRET = "development-only-secret-change-me"
DATA_DIR = REPO_ROOT / "data"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIRONG_", extra="forbid", frozen=True)

    env: Environment = Field(
        default=Environment.PRODUCTION,
        description="development allows the built-in secret key and the demo seed.",
    )
    database_url: str = Field(
        default=f"sqlite:///{DATA_DIR / 'shirong.db'}",
        min_length=1,
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user:pw@host/db.",
    )
    evidence_root: Path = Field(
        default=DATA_DIR / "evidence",
        description="Folder of the content-addressed photo store (files named by SHA-256).",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key that peppers stored token hashes; required outside development.",
    )
    token_ttl_minutes: int = Field(default=720, ge=1, le=60 * 24 * 30, description="Token life.")
    argon2_time_cost: int = Field(default=3, ge=1, le=10, description="argon2id iterations.")
    argon2_memory_kib: int = Field(
        default=65536, ge=8, le=1 << 21, description="argon2id memory per hash in KiB."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed logins per username+IP before 429."
    )
    login_window_s: int = Field(
        default=900, ge=1, le=86400, description="Window in which failed logins are counted."
    )
    login_max_failures_per_ip: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="Failed logins from one IP, any usernames, in the window; past it, only "
        "accounts with no failure from that IP in the window may still log in.",
    )
    login_max_concurrent_hashes: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Password checks run at once (each holds argon2_memory_kib); more get 503.",
    )
    login_hash_wait_s: float = Field(
        default=1.0, ge=0, le=30, description="Wait for a free password-check slot before 503."
    )
    login_max_concurrent_throttled_hashes: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Of login_max_concurrent_hashes, how many may check logins from IPs past "
        "their failure budget, so a guessing address leaves the other slots to everyone else.",
    )
    trusted_proxies: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        default=(),
        max_length=100,
        description="Reverse proxies (addresses or networks, comma-separated) whose "
        "X-Forwarded-For and -Proto are believed; empty: none, the peer address is the client.",
    )
    metrics_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token a Prometheus scraper sends to GET /metrics; empty: admins only.",
    )
    upload_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, le=1 << 30, description="Largest accepted upload."
    )
    photo_batch_max_bytes: int = Field(
        default=60 * 1024 * 1024,
        ge=1024,
        le=1 << 34,
        description="Largest POST /ingest/photos body, all its photos together (each is also "
        "held to upload_max_bytes); refused while it is read.",
    )
    request_max_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=1 << 30,
        description="Largest body of any request other than photo and video uploads (JSON, "
        "forms); refused while it is read.",
    )
    upload_max_pixels: int = Field(
        default=25_000_000,
        ge=1,
        le=1 << 31,
        description="Largest accepted width*height. 25 MP admits 24 MP cameras (6000x4000) and "
        "phones' default 12-13 MP output (their 48-200 MP modes are opt-in); the detector sees "
        "640 px, and each decode holds up to 4 bytes a pixel (100 MB at 25 MP).",
    )
    decode_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Uploaded images decoded at once (checks and detector input), so concurrent "
        "uploads cost at most this many decodes' memory.",
    )
    decode_wait_s: float = Field(
        default=20.0, ge=0, le=600, description="Wait for a free decode slot before 503."
    )
    photo_decode_side: int = Field(
        default=0,
        ge=0,
        le=1 << 16,
        description="Photos are analysed decoded at 1/2, 1/4 or 1/8 scale while their long side "
        "stays at least this (JPEG: scaled inside the decoder, a fraction of the memory). The "
        "evidence frames (原图 in tickets and reports) are then that size too, so the default, 0, "
        "analyses full size; the decode slots and the pixel cap bound the memory.",
    )
    public_base_url: str = Field(
        default="http://localhost:8000",
        min_length=1,
        description="Base URL used in links sent out (webhooks, reports).",
    )
    evidence_link_ttl_hours: float = Field(
        default=7 * 24,
        gt=0,
        le=90 * 24,
        description="Life of the signed evidence links in webhook messages and daily reports: "
        "each opens its one file without a login (chats and browsers send no token) until then.",
    )
    dispatch_worker: bool = Field(
        default=True, description="Run the webhook delivery worker inside the app."
    )
    dispatch_poll_s: float = Field(
        default=5.0, gt=0, le=3600, description="Seconds between worker delivery rounds."
    )
    dispatch_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Attempts before a message is marked failed."
    )
    dispatch_backoff_s: float = Field(
        default=10.0, gt=0, le=3600, description="First retry delay; doubles each attempt."
    )
    dispatch_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="HTTP timeout of one webhook delivery."
    )
    dispatch_lease_s: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="How long a delivery round owns a message it is sending; one that never "
        "finished (a crash mid-send) is re-sent, same Idempotency-Key, after this. Must exceed "
        "dispatch_timeout_s.",
    )
    camera_workers: bool = Field(
        default=True,
        description="Watch every enabled camera, each in its own worker process (or Ray actor).",
    )
    camera_fps: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Frames per second each camera worker analyses. 1 suits street disorder "
        "(dwell is counted in minutes) and lets a camera with a keyframe a second be decoded "
        "keyframes-only (docs/deployment.md: capacity).",
    )
    camera_decode: DecodeMode = Field(
        default=DecodeMode.AUTO,
        description="Frames a camera worker decodes: 'keyframes' (a fraction of the CPU of 'all' "
        "at 1 fps on a 1 s GOP: docs/deployment.md, capacity), 'all', or 'auto': keyframes while "
        "the camera's keyframe interval is no longer than 1/camera_fps, else all (with a warning "
        "in its status).",
    )
    camera_fallback_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="A camera with a detection sub-stream analyses its main stream after the "
        "sub-stream has given no frame for this long, until it does again.",
    )
    camera_restart_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Delay before a crashed camera worker restarts; doubles per crash in a row.",
    )
    camera_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description="ONNX Runtime threads in each camera's worker process (one camera per "
        "process: more threads per camera only contend for the same cores).",
    )
    camera_heartbeat_s: float = Field(
        default=1.0, gt=0, le=60, description="How often a camera worker reports its status."
    )
    camera_hang_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Watchdog: a camera worker silent this long is hung; it is killed and "
        "restarted. Above Ray's node-failure detection on a cluster, so a moving actor is "
        "not killed twice.",
    )
    camera_stall_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Watchdog: a camera whose stream is online but that has analysed no frame "
        "for this long is stuck (detector, rules or database); its worker is killed.",
    )
    camera_max_rss_mb: int = Field(
        default=2048,
        ge=64,
        le=1 << 20,
        description="Watchdog: a camera worker using more memory than this is leaking; killed "
        "and restarted.",
    )
    job_max_attempts: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Times a dashcam job is started when its worker process dies mid-way (a "
        "decoder crash, a lost node) before the job fails naming the cause.",
    )
    photo_workers: int = Field(
        default=1, ge=1, le=64, description="Worker processes analysing uploaded photos."
    )
    camera_cpus: float = Field(
        default=0.25,
        gt=0,
        le=64,
        description="Ray: CPUs a camera actor reserves, which decides how many cameras a node "
        "takes (a 1-CPU node: 4).",
    )
    ray_address: str | None = Field(
        default=None,
        max_length=200,
        description="Ray cluster to run analysis on (SHIRONG_RAY_ADDRESS, e.g. 10.0.0.5:6379): "
        "cameras become Ray actors, dashcam jobs and photos Ray tasks. Unset: worker "
        "processes on this machine.",
    )
    video_fps: float = Field(
        default=2.0, gt=0, le=60, description="Frames per second sampled from dashcam videos."
    )
    video_max_bytes: int = Field(
        default=2 * 1024**3, ge=1024, le=1 << 40, description="Largest accepted dashcam video."
    )
    retention_worker: bool = Field(
        default=True,
        description="Run retention inside the app: at start-up, then every retention_interval_s.",
    )
    retention_interval_s: float = Field(
        default=3600, ge=60, le=7 * 86400, description="Seconds between retention runs."
    )
    retention_temp_max_age_s: float = Field(
        default=3600,
        ge=60,
        le=7 * 86400,
        description="A temporary file (.upload-*, .tmp-*) not written to for this long was left "
        "by a killed upload or write and is removed (an upload stalled this long then fails).",
    )
    retention_video_days: int = Field(
        default=30,
        ge=0,
        le=36500,
        description="Dashcam videos (and GPS tracks) are kept this many days after their job "
        "finished (succeeded, partial or failed); the job row stays. 0 keeps them forever.",
    )
    retention_evidence_days: int = Field(
        default=365,
        ge=0,
        le=36500,
        description="Evidence files of closed or cancelled tickets and rejected incidents, and "
        "uploads nothing uses, are kept this many days after that; open tickets', pending "
        "incidents' and held tickets' evidence is kept. 0 keeps them forever.",
    )
    model_path: Path | None = Field(
        default=None,
        description="ONNX detector (one model) or detector set file (.yaml) for cameras, uploads "
        "and dashcam jobs; None: the default set, models/default.yaml.",
    )
    sla_hours_urgent: float = Field(default=2, gt=0, le=720, description="Due time, urgent.")
    sla_hours_high: float = Field(default=8, gt=0, le=720, description="Due time, high.")
    sla_hours_normal: float = Field(default=24, gt=0, le=720, description="Due time, normal.")
    recurrence_window_hours: float = Field(
        default=24,
        ge=0,
        le=24 * 30,
        description="A new incident at the place and clause of one seen (or its ticket closed) "
        "less than this long before is linked to it, not queued anew; 0 turns linking off.",
    )
    recurrence_min_iou: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="Fixed cameras: least overlap (IoU of the regions, same frame size) for two "
        "incidents of one source to be one situation.",
    )
    recurrence_radius_m: float = Field(
        default=30,
        gt=0,
        le=1000,
        description="Dashcams and GPS photos: greatest distance in metres between two incidents "
        "of one situation.",
    )
    recurrence_reject_margin: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="A sighting of a rejected (false-positive) incident is suppressed unless its "
        "confidence beats the rejected one's by more than this.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        """``10.0.0.5,10.0.1.0/24`` as uvicorn's FORWARDED_ALLOW_IPS is written."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_long(cls, token: SecretStr) -> SecretStr:
        if 0 < len(token.get_secret_value()) < 16:
            raise ValueError("SHIRONG_METRICS_TOKEN must be empty or at least 16 characters")
        return token

    @model_validator(mode="after")
    def _lease_outlasts_timeout(self) -> Settings:
        if self.dispatch_lease_s <= self.dispatch_timeout_s:
            raise ValueError(
                f"dispatch_lease_s ({self.dispatch_lease_s}) must exceed dispatch_timeout_s "
                f"({self.dispatch_timeout_s}), or a slow delivery is re-sent while it still runs"
            )
        return self

    @model_validator(mode="after")
    def _cluster_needs_a_shared_database(self) -> Settings:
        if self.ray_address and self.database_url.startswith("sqlite"):
            raise ValueError(
                "SHIRONG_RAY_ADDRESS is set but SHIRONG_DATABASE_URL is SQLite: workers on other "
                "nodes cannot reach a SQLite file; use PostgreSQL "
                "(postgresql+psycopg://user:pw@host/db)"
            )
        return self

    @model_validator(mode="after")
    def _secret_required(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.env is not Environment.DEVELOPMENT and secret in ("", DEV_SECRET):
            raise ValueError(
                "SHIRONG_SECRET_KEY is empty or the built-in development key; set a long random "
                "value (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) or "
                "run with SHIRONG_ENV=development"
            )
        if len(secret) < 16 and self.env is not Environment.DEVELOPMENT:
            raise ValueError("SHIRONG_SECRET_KEY must be at least 16 characters")
        return self

    @property
    def secret(self) -> bytes:
        """The key bytes; the development key stands in for an empty one in development."""
        return (self.secret_key.get_secret_value() or DEV_SECRET).encode()


def load_settings() -> Settings:
    """Settings from the environment; an invalid value becomes a ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = validation_message(exc, layout=STACKED)
        raise ConfigError(f"invalid SHIRONG_* settings:\n{problems}") from exc
