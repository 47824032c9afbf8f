"""The product works installed from its wheel, away from the checkout.

The wheel is built from a copy of the working tree, installed (not editable, with the ``serve``
extra and without torch) into a fresh virtualenv, and run from a temporary folder with no
``PYTHONPATH``: ``shirong detect`` on an image and ``shirong serve`` up to ``/health``,
``/ui/labels.json`` and a migrated database. Each check names what is missing. pip may reach the
package index; its cache makes a rerun take seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from alembic.script import ScriptDirectory

from detection.engine import DEFAULT_MODELS, model_files
from serving.migrations import alembic_config
from tests.conftest import REPO
from tests.detection.capture.capture_helpers import free_tcp_port, stop_process, wait_until

pytestmark = pytest.mark.slow

WHERE_FROM = """
import importlib.util, json, detection
from detection.engine import default_detection, model_files
from detection.taxonomy import DEFAULT_TAXONOMY
print(json.dumps({
    "package": detection.__file__,
    "set": str(default_detection()),
    **{f"model {p.parent.name}": str(p) for p in model_files(default_detection())},
    "taxonomy": str(DEFAULT_TAXONOMY),
    "torch": bool(importlib.util.find_spec("torch")),
}))
"""
WHEEL_MAX_MB = 11  # the default set's two models are 3.5 MB each: more means an unneeded one ships


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    cwd: Path  # an empty folder outside the checkout
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def python(self, code: str) -> str:
        done = self.run(str(self.venv / "bin" / "python"), "-c", code)
        assert done.returncode == 0, f"the installed python failed:\n{done.stderr[-3000:]}"
        return done.stdout.strip()


def checkout_files() -> list[str]:
    """Tracked files and new ones git does not ignore: what a clone with this work would hold."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, (
        f"pip {args[0]} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # a copy, so the build leaves no build/ or egg-info in the checkout
    for name in checkout_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(root / "dist"), str(source))
    (wheel,) = (root / "dist").glob("shirong-*.whl")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    pip("--python", str(env_dir / "bin" / "python"), "install", "--quiet", f"{wheel}[serve]")
    cwd = root / "elsewhere"
    cwd.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SHIRONG_", "PYTHON", "VIRTUAL_ENV"))
    }
    yield Installed(wheel, env_dir, cwd, env | {"SHIRONG_ENV": "development"})
    shutil.rmtree(env_dir)  # most of a gigabyte; the wheel and the run folder stay for a look


def released_files() -> list[str]:
    """What the product reads outside its packages: the taxonomy, the default set file and each
    model it runs, with its card."""
    models = [p.parent.relative_to(REPO).as_posix() for p in model_files(REPO / DEFAULT_MODELS)]
    return [
        "datasets/taxonomy.yaml",
        DEFAULT_MODELS,
        *(f"{model}/{name}" for model in models for name in ("model.onnx", "MODEL_CARD.md")),
    ]


def test_the_wheel_ships_what_the_product_reads_and_is_small(installed: Installed) -> None:
    version = installed.wheel.name.split("-")[1]
    share = f"shirong-{version}.data/data/share/shirong"  # pip puts it in <data folder>/share
    migrations = sorted(
        p.relative_to(REPO).as_posix() for p in REPO.glob("serving/migrations/**/*.py")
    )
    needed = [
        *(f"{share}/{name}" for name in released_files()),
        "serving/ui/index.html",
        "serving/ui/labels.json",
        *(  # the API docs' assets and their licences
            p.relative_to(REPO).as_posix()
            for p in REPO.glob("serving/ui/vendor/**/*")
            if p.is_file()
        ),
        *migrations,
    ]
    members = set(zipfile.ZipFile(installed.wheel).namelist())
    missing = [name for name in needed if name not in members]
    assert not missing, f"the wheel lacks {missing}: see [tool.setuptools.*] in pyproject.toml"
    size_mb = installed.wheel.stat().st_size / 2**20
    assert size_mb < WHEEL_MAX_MB, f"the wheel is {size_mb:.1f} MB; ship only the model that runs"


def test_the_installed_product_runs_its_own_copy_without_torch(installed: Installed) -> None:
    found = json.loads(installed.python(WHERE_FROM))
    assert not found.pop("torch"), "the serve extra pulled in torch"
    for what, path in found.items():
        assert Path(path).is_relative_to(installed.venv), (
            f"{what} is read from {path}, not the venv"
        )
    names = [p.parent.name for p in model_files(REPO / DEFAULT_MODELS)]
    assert [key.removeprefix("model ") for key in found if key.startswith("model ")] == names


def test_shirong_detect_runs_on_an_image_from_another_folder(installed: Installed) -> None:
    image = np.full((480, 640, 3), 90, np.uint8)
    cv2.rectangle(image, (200, 150), (440, 330), (40, 40, 200), -1)
    assert cv2.imwrite(str(installed.cwd / "street.jpg"), image)

    done = installed.run(
        str(installed.venv / "bin" / "shirong"), "detect", "street.jpg", "--out", "out"
    )

    assert done.returncode == 0, f"shirong detect failed:\n{done.stderr[-3000:]}"
    (record,) = (installed.cwd / "out" / "detections.jsonl").read_text("utf-8").splitlines()
    assert json.loads(record)["source"] == "street.jpg"
    assert list((installed.cwd / "out" / "annotated").glob("*.jpg"))


def test_shirong_serve_answers_with_its_ui_words_on_a_migrated_database(
    installed: Installed,
) -> None:
    port = free_tcp_port()
    log = installed.cwd / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(installed.venv / "bin" / "shirong"), "serve", "--port", str(port)],
            cwd=installed.cwd,
            env=installed.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def up_or_gone() -> bool:
            if server.poll() is not None:
                return True
            try:
                return httpx.get(f"{base}/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up_or_gone, timeout_s=120, what="shirong serve to answer /health")
        assert server.poll() is None, f"shirong serve exited:\n{log.read_text('utf-8')[-3000:]}"

        labels = httpx.get(f"{base}/ui/labels.json", timeout=10)
        assert labels.status_code == 200, f"/ui/labels.json: {labels.status_code}"
        assert labels.json() == json.loads((REPO / "serving/ui/labels.json").read_text("utf-8"))
        assert "<html" in httpx.get(f"{base}/ui/", timeout=10).text.lower()
    finally:
        stop_process(server, signal.SIGTERM)

    database = installed.cwd / "data" / "shirong.db"  # the default: data/ in the working folder
    assert database.is_file(), f"no database at {database}:\n{log.read_text('utf-8')[-3000:]}"
    with closing(sqlite3.connect(database)) as db:
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert version == head, f"the database is at {version}, not the migrations' head {head}"
