"""``shirong serve`` and ``shirong seed-demo``; ``detection`` stays free of web imports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from detection.cli import main
from serving.app import create_app
from tests.serving.conftest import _free_port, make_settings

REPO = Path(__file__).resolve().parents[2]


def test_the_shirong_command_does_not_import_the_web_stack() -> None:
    code = (
        "import sys, detection.cli\n"
        "detection.cli.build_parser()\n"
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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
    port = _free_port()
    env = {
        **os.environ,
        "SHIRONG_ENV": "development",
        "SHIRONG_DATABASE_URL": f"sqlite:///{tmp_path}/serve.db",
        "SHIRONG_EVIDENCE_ROOT": str(tmp_path / "evidence"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "detection.cli", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, server.stdout.read().decode() if server.stdout else ""
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (tmp_path / "serve.db").exists()
