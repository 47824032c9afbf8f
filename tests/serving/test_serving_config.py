"""Settings from SHIRONG_* variables; the secret key is refused where it is unsafe."""

from __future__ import annotations

import pytest

from detection.errors import ConfigError
from serving.config import DEV_SECRET, Environment, Settings, load_settings

REFUSED = "SHIRONG_SECRET_KEY is empty or the built-in development key"


@pytest.mark.parametrize(
    ("env", "secret", "error"),
    [
        ("production", "", REFUSED),
        ("production", DEV_SECRET, REFUSED),
        ("test", "", REFUSED),
        ("production", "short-secret", "SHIRONG_SECRET_KEY must be at least 16 characters"),
        ("production", "a-long-and-random-secret-value", None),
        ("development", "", None),
        ("development", DEV_SECRET, None),
    ],
)
def test_secret_key_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, env: str, secret: str, error: str | None
) -> None:
    monkeypatch.setenv("SHIRONG_ENV", env)
    monkeypatch.setenv("SHIRONG_SECRET_KEY", secret)
    if error is None:
        assert load_settings().env is Environment(env)
        return
    with pytest.raises(ConfigError, match=error):
        load_settings()


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIRONG_ENV", "development")
    monkeypatch.setenv("SHIRONG_DATABASE_URL", "postgresql+psycopg://u@db/shirong")
    monkeypatch.setenv("SHIRONG_UPLOAD_MAX_BYTES", "2048")
    settings = load_settings()
    assert (settings.database_url, settings.upload_max_bytes) == (
        "postgresql+psycopg://u@db/shirong",
        2048,
    )
    assert settings.secret == DEV_SECRET.encode()


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIRONG_ENV", "development")
    monkeypatch.setenv("SHIRONG_UPLOAD_MAX_BYTES", "12")
    with pytest.raises(ConfigError, match="upload_max_bytes"):
        load_settings()


def test_default_database_is_sqlite_in_the_data_folder() -> None:
    settings = Settings(env=Environment.DEVELOPMENT)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("/data/shirong.db")


def test_a_ray_cluster_with_sqlite_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIRONG_ENV", "development")
    monkeypatch.setenv("SHIRONG_RAY_ADDRESS", "10.0.0.5:6379")
    with pytest.raises(ConfigError, match="workers on other nodes cannot reach a SQLite file"):
        load_settings()
    monkeypatch.setenv("SHIRONG_DATABASE_URL", "postgresql+psycopg://u@db/shirong")
    assert load_settings().ray_address == "10.0.0.5:6379"
