"""GET /metrics: closed by default (admins only), open to a scraper with SHIRONG_METRICS_TOKEN."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from detection.errors import ConfigError
from serving.app import create_app
from serving.config import load_settings
from serving.db.models import UserRole
from tests.serving.helpers import Api, make_settings

TOKEN = "scraper-token-0123456789"


def scrape(client: TestClient, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers).status_code


def test_without_a_token_setting_only_admins_read_metrics(api: Api) -> None:
    dispatcher = api.actor(UserRole.DISPATCHER)
    assert scrape(api.client, None) == 401
    assert scrape(api.client, TOKEN) == 401  # no token is configured, so none is accepted
    assert api.client.get("/metrics", headers=dispatcher.headers).status_code == 403
    assert api.client.get("/metrics", headers=api.admin.headers).status_code == 200


@pytest.fixture
def scraped(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path, metrics_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        yield Api(client)


def test_the_metrics_token_lets_a_scraper_in(scraped: Api) -> None:
    response = scraped.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "shirong_tickets" in response.text
    assert scrape(scraped.client, None) == 401
    assert scrape(scraped.client, TOKEN[:-1]) == 401
    assert scrape(scraped.client, TOKEN + "x") == 401
    assert scraped.client.get("/metrics", headers=scraped.admin.headers).status_code == 200


def test_the_metrics_token_opens_nothing_else(scraped: Api) -> None:
    assert (
        scraped.client.get("/me", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    )


def test_a_short_metrics_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIRONG_ENV", "development")
    monkeypatch.setenv("SHIRONG_METRICS_TOKEN", "short")
    with pytest.raises(ConfigError, match="must be empty or at least 16 characters"):
        load_settings()
