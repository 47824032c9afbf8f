"""Photo uploads under attack: concurrent identical uploads, files appended to an image, serving."""

from __future__ import annotations

import io
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from detection.evidence import EvidenceStore
from serving.app import create_app
from serving.db.models import Blob
from tests.conftest import COCO_INT8
from tests.serving.helpers import PLANTS, Api, error_message, make_settings, png_bytes, upload

THREADS, REQUESTS = 10, 11


@pytest.fixture
def ingest(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The service with its default (released) model, as ``POST /ingest/photos`` runs it."""
    with TestClient(create_app(make_settings(database_url, tmp_path))) as client:
        yield Api(client)


def blob_count(api: Api) -> int:
    with api.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Blob)) or 0)


def hammer(api: Api, route: str, data: bytes) -> Counter[int]:
    """THREADS threads, started together, each POST ``data`` to ``route`` REQUESTS times."""
    start = threading.Barrier(THREADS)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def client() -> None:
        start.wait()
        for _ in range(REQUESTS):
            response = api.client.post(
                route, files={"file": ("photo.png", data)}, headers=api.admin.headers
            )
            with lock:
                statuses[response.status_code] += 1

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.slow
def test_concurrent_identical_evidence_uploads_return_the_one_record(api: Api) -> None:
    statuses = hammer(api, "/evidence", png_bytes(32, 24))
    assert set(statuses) <= {200, 201} and statuses[201] == 1, statuses
    assert blob_count(api) == 1


@pytest.mark.slow
def test_concurrent_identical_photo_ingests_return_the_one_record(ingest: Api) -> None:
    statuses = hammer(ingest, "/ingest/photos", png_bytes(48, 32))
    assert set(statuses) == {200}, statuses
    assert blob_count(ingest) == 1
    created = ingest.client.post(
        "/ingest/photos", files={"file": ("p.png", png_bytes(48, 32))}, headers=ingest.admin.headers
    ).json()
    assert created[0]["created"] is False


@pytest.fixture
def coco(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The service with the COCO stand-in, which finds the potted plants of PLANTS (a 3a)."""
    with TestClient(create_app(make_settings(database_url, tmp_path, model_path=COCO_INT8))) as c:
        yield Api(c)


@pytest.mark.slow
@pytest.mark.shared_data
def test_concurrent_identical_photos_give_one_set_of_incidents(coco: Api) -> None:
    statuses = hammer(coco, "/ingest/photos", PLANTS.read_bytes())
    assert set(statuses) == {200}, statuses
    assert blob_count(coco) == 1
    files = {"file": ("p.jpg", PLANTS.read_bytes())}
    (again,) = coco.ok("POST", "/ingest/photos", files=files)
    assert again["incidents"], "the potted plants on the pavement should be a 3a incident"
    stored = sorted(i["id"] for i in coco.ok("GET", "/incidents"))
    assert stored == sorted(i["id"] for i in again["incidents"])  # no duplicates from the race


def encoded(fmt: str, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("payload.html", "<script>alert(1)</script>")
    return buffer.getvalue()


JPEG, PNG, WEBP, ZIP = encoded("JPEG"), encoded("PNG"), encoded("WEBP"), archive()
APPENDED = "more bytes follow (starting 504b0304"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (JPEG + ZIP, f"the JPEG image ends at byte {len(JPEG)} but {len(ZIP)} {APPENDED}"),
        (PNG + ZIP, f"the PNG image ends at byte {len(PNG)} but {len(ZIP)} {APPENDED}"),
        (WEBP + ZIP, f"the WEBP image ends at byte {len(WEBP)} but {len(ZIP)} {APPENDED}"),
        (JPEG + encoded("JPEG", 1) + ZIP, APPENDED),  # past a second picture too
        (JPEG + b"\0" * 16 + ZIP, APPENDED),
        (JPEG[:-2], "the JPEG image cannot be decoded: the file ends before the image"),
    ],
    ids=["jpeg+zip", "png+zip", "webp+zip", "jpeg+jpeg+zip", "jpeg+padding+zip", "jpeg-no-eoi"],
)
@pytest.mark.parametrize("route", ["/evidence", "/ingest/photos"])
def test_a_file_appended_to_a_photo_is_refused(
    api: Api, route: str, data: bytes, message: str
) -> None:
    response = api.client.post(route, files={"file": ("a.jpg", data)}, headers=api.admin.headers)
    assert response.status_code == 422, response.text
    assert message in error_message(response)
    assert "send the image alone" in error_message(response) or "ends before" in message
    assert blob_count(api) == 0


@pytest.mark.parametrize(
    "data",
    [JPEG + encoded("JPEG", 1), JPEG + b"\0" * 100],
    ids=["multi-picture (an Ultra HDR gain map)", "zero padding"],
)
def test_what_cameras_put_after_a_jpeg_is_accepted(api: Api, data: bytes) -> None:
    assert upload(api, data).status_code == 201


def test_evidence_is_served_as_its_stored_type_never_sniffed(api: Api) -> None:
    digest = upload(api, JPEG, name="photo.png").json()["sha256"]
    frame = EvidenceStore(api.services.settings.evidence_root).put(PNG, "png")  # the pipeline's
    for sha, media_type in ((digest, "image/jpeg"), (frame, "image/png")):
        response = api.client.get(f"/evidence/{sha}", headers=api.admin.headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == media_type
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; sandbox; frame-ancestors 'none'"  # framing refused everywhere
        )
