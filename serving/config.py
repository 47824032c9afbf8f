"""Service settings, read from ``SHIRONG_*`` environment variables.

A default or empty secret key is refused outside ``SHIRONG_ENV=development`` so that a production
deployment can never run with a key anyone can read in this file.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from detection.errors import ConfigError
from detection.taxonomy import REPO_ROOT

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
    upload_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, le=1 << 30, description="Largest accepted upload."
    )
    upload_max_pixels: int = Field(
        default=50_000_000, ge=1, le=1 << 31, description="Largest accepted width*height."
    )
    public_base_url: str = Field(
        default="http://localhost:8000",
        min_length=1,
        description="Base URL used in links sent out (webhooks, reports).",
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
    camera_workers: bool = Field(
        default=True, description="Run a stream worker for every enabled camera inside the app."
    )
    camera_fps: float = Field(
        default=2.0, gt=0, le=60, description="Frames per second each camera worker analyses."
    )
    camera_restart_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Delay before a crashed camera worker restarts; doubles per crash in a row.",
    )
    video_fps: float = Field(
        default=2.0, gt=0, le=60, description="Frames per second sampled from dashcam videos."
    )
    video_max_bytes: int = Field(
        default=2 * 1024**3, ge=1024, le=1 << 40, description="Largest accepted dashcam video."
    )
    model_path: Path | None = Field(
        default=None,
        description="ONNX detector for cameras and uploads; None: the released default model.",
    )
    sla_hours_urgent: float = Field(default=2, gt=0, le=720, description="Due time, urgent.")
    sla_hours_high: float = Field(default=8, gt=0, le=720, description="Due time, high.")
    sla_hours_normal: float = Field(default=24, gt=0, le=720, description="Due time, normal.")

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
        raise ConfigError(f"invalid SHIRONG_* settings:\n{exc}") from exc
