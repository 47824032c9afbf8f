"""A live service (uvicorn on a free loopback port, SQLite in a temporary folder) and Chromium.

The browser is Debian's /usr/bin/chromium driven by Playwright; Playwright's own browser download
is never used, and the tests are skipped with the reason where that binary is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from serving.api.deps import Services
from serving.app import create_app
from serving.db.models import UserRole
from serving.schemas.auth import UserCreate
from serving.schemas.squads import SquadIn
from serving.services.squads import create_squad
from serving.services.users import create_user
from tests.conftest import WAIT_S
from tests.serving.helpers import PASSWORD, make_settings, uvicorn_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
WAIT_MS = int(WAIT_S * 1000)  # every Playwright wait's bound (its default timeout), in its unit


@dataclass(frozen=True)
class LiveService:
    url: str
    services: Services
    squads: dict[str, int]  # squad code → id; each squad owns one camera, named cam-<code>


def _seed(services: Services) -> dict[str, int]:
    """Two area squads, each owning one camera, and one user per role (password PASSWORD)."""
    squads = {}
    with services.sessions() as session:
        for code, name in (("east", "东区派驻中队"), ("west", "西区派驻中队")):
            data = {"code": code, "name": name, "kind": "area", "cameras": [f"cam-{code}"]}
            squad = create_squad(session, SquadIn.model_validate(data))
            squads[code] = squad.id
        users = [
            ("reviewer", UserRole.REVIEWER, None),
            ("dispatcher", UserRole.DISPATCHER, None),
            ("officer_east", UserRole.SQUAD_OFFICER, squads["east"]),
            ("officer_west", UserRole.SQUAD_OFFICER, squads["west"]),
        ]
        for username, role, squad_id in users:
            create_user(
                session,
                services.passwords,
                UserCreate(username=username, password=PASSWORD, role=role, squad_id=squad_id),
            )
        session.commit()
    return squads


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with serve(tmp_path_factory.mktemp("live")) as service:
        yield service


@contextmanager
def serve(root: Path, **overrides: Any) -> Iterator[LiveService]:
    """The service on a free loopback port, SQLite under ``root``, settings ``overrides``."""
    overrides.setdefault("camera_workers", False)
    settings = make_settings(f"sqlite:///{root / 'shirong.db'}", root, **overrides)
    app: FastAPI = create_app(settings)
    services: Services = app.state.services
    with uvicorn_thread(app) as port:
        yield LiveService(f"http://127.0.0.1:{port}", services, _seed(services))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent (install Debian's chromium: scripts/setup.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
