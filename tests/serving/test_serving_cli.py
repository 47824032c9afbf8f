"""The ``shirong`` command, ``serve`` and ``seed-demo``; ``detection`` stays free of web imports."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from detection import cli as detection_cli
from serving.app import create_app
from serving.cli import build_parser, main
from tests.conftest import REPO, WAIT_S
from tests.serving.helpers import make_settings, shirong_serve


def test_the_shirong_command_does_not_import_the_web_stack() -> None:
    code = (
        "import sys, serving.cli\n"
        "serving.cli.build_parser()\n"
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_the_shirong_command_has_every_command_and_detection_only_its_own() -> None:
    """``detection`` never imports ``serving``: the installed command is serving's."""
    own = {"detect", "data", "train", "eval", "export", "watch"}
    assert _commands(detection_cli.build_parser()) == own
    service = {"serve", "seed-demo", "retention", "backup", "restore"}
    assert _commands(build_parser()) == own | service
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["shirong"] == "serving.cli:main"


def test_seed_demo_prints_logins_that_work(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHIRONG_ENV", "development")
    monkeypatch.setenv("SHIRONG_DATABASE_URL", database_url)
    monkeypatch.setenv("SHIRONG_ARGON2_TIME_COST", "1")  # cheap hashes: this tests seeding
    monkeypatch.setenv("SHIRONG_ARGON2_MEMORY_KIB", "64")
    assert main(["seed-demo"]) == 0
    logins = dict(line.split()[:2] for line in capsys.readouterr().out.splitlines())
    assert set(logins) == {
        "demo-admin",
        "demo-dispatcher",
        "demo-reviewer",
        "demo-ingest",
        "demo-officer-lsw",
        "demo-officer-culture",
    }
    assert main(["seed-demo"]) == 0  # idempotent
    assert "(exists; password unchanged)" in capsys.readouterr().out
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings)) as client:
        token = client.post(
            "/auth/login",
            data={"username": "demo-officer-lsw", "password": logins["demo-officer-lsw"]},
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        squads = client.get("/squads", headers=headers).json()
        lsw = next(s for s in squads if s["code"] == "lingshanwei")
        me = client.get("/me", headers=headers).json()
        assert (me["role"], me["squad_id"]) == ("squad_officer", lsw["id"])
        assert {
            "road": "长江西路",
            "officer_id": me["id"],
            "model_road": True,
            "key_road": False,
        } in lsw["roads"]


def test_seed_demo_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIRONG_ENV", "production")
    monkeypatch.setenv("SHIRONG_SECRET_KEY", "a-long-and-random-production-key")
    assert main(["seed-demo"]) == 2
    assert "run it only with SHIRONG_ENV=development" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_answers_health_when_ready(tmp_path: Path) -> None:
    with shirong_serve(tmp_path) as served:
        answer = httpx.get(f"{served.url}/health", timeout=WAIT_S)
        assert (answer.status_code, answer.json()) == (200, {"status": "ok", "warnings": []})
    assert (tmp_path / "serve.db").exists()
