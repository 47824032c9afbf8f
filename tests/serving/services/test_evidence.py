"""Photo uploads: limits, content-type by content, decompression bombs, dedup, download."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from detection.evidence import EvidenceStore
from serving.app import create_app
from serving.db.models import Blob, UserRole
from tests.serving.helpers import (
    Api,
    error_message,
    make_settings,
    png_bytes,
    png_header_only,
    stored_files,
    upload,
)

MAX_BYTES, MAX_PIXELS = 64 * 1024, 1_000_000


@pytest.fixture
def small(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """An app with small upload limits."""
    settings = make_settings(
        database_url, tmp_path, upload_max_bytes=MAX_BYTES, upload_max_pixels=MAX_PIXELS
    )
    with TestClient(create_app(settings)) as client:
        yield Api(client)


def encoded(fmt: str, size: tuple[int, int] = (16, 12), noise: bool = False) -> bytes:
    pixels = (
        np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        if noise
        else np.full((size[1], size[0], 3), 90, dtype=np.uint8)
    )
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "media_type", "ext"),
    [("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp")],
)
def test_upload_stores_by_sha256(small: Api, fmt: str, media_type: str, ext: str) -> None:
    data = encoded(fmt)
    officer = small.actor(UserRole.INGEST)
    response = upload(small, data, officer, name="whatever.bin")
    assert response.status_code == 201, response.text
    digest = hashlib.sha256(data).hexdigest()
    body = response.json()
    assert (body["sha256"], body["size"], body["media_type"]) == (digest, len(data), media_type)
    assert (body["width"], body["height"]) == (16, 12)
    root = small.services.settings.evidence_root
    assert (root / digest[:2] / f"{digest}.{ext}").read_bytes() == data
    download = small.client.get(f"/evidence/{digest}", headers=officer.headers)
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"] == media_type


def test_same_bytes_twice_is_one_record(small: Api) -> None:
    data = png_bytes()
    first, again = upload(small, data), upload(small, data, name="other-name.jpg")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert _blob_count(small) == 1


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (
            b"hello, I am text pretending to be a photo",
            415,
            "unsupported file type: only JPEG, PNG and WebP photos are accepted",
        ),
        (encoded("GIF"), 415, "unsupported file type"),
        (encoded("PNG", (200, 200), noise=True), 413, f"the limit is {MAX_BYTES} bytes"),
        (
            png_header_only(50_000, 50_000),  # past Pillow's own bomb guard
            413,
            "Image size (2500000000 pixels) exceeds limit of 178956970 pixels, could be "
            f"decompression bomb DOS attack.; the limit is {MAX_PIXELS} pixels",
        ),
        (
            png_header_only(5_000, 5_000),  # only ours refuses it, before decoding
            413,
            f"image is 5000x5000 = 25000000 pixels; the limit is {MAX_PIXELS} pixels",
        ),
        (encoded("PNG", (1200, 1000)), 413, "image is 1200x1000 = 1200000 pixels"),
        (png_bytes()[:40], 422, "the PNG image cannot be decoded"),
        (encoded("JPEG")[:200], 422, "the JPEG image cannot be decoded"),
        (b"", 422, "file is empty"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    small: Api, data: bytes, status: int, message: str
) -> None:
    response = upload(small, data)
    assert response.status_code == status, response.text
    assert message in error_message(response)
    assert _blob_count(small) == 0
    root = small.services.settings.evidence_root
    assert stored_files(root) == []


def test_oversized_body_is_refused_from_its_content_length(small: Api) -> None:
    response = small.client.post(
        "/evidence",
        headers={**small.admin.headers, "Content-Type": "multipart/form-data; boundary=x"},
        content=b"x" * (MAX_BYTES + 128 * 1024),
    )
    assert response.status_code == 413
    assert response.json()["detail"].startswith(
        f"request body is over {MAX_BYTES + 64 * 1024} bytes, the limit for /evidence"
    )


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": {"note": "no file"}}, 422),
        ({"files": {"photo": ("a.png", b"\x89PNG")}}, 422),
        (
            {
                "content": b"--x\r\nbroken",
                "headers": {"Content-Type": "multipart/form-data; boundary=x"},
            },
            422,
        ),
    ],
)
def test_missing_or_malformed_form(small: Api, kwargs: dict[str, object], status: int) -> None:
    headers = {**small.admin.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    response = small.client.post("/evidence", headers=headers, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text


def test_frames_written_by_the_pipeline_are_served(small: Api) -> None:
    data = png_bytes(4, 4)
    digest = EvidenceStore(small.services.settings.evidence_root).put(data, "png")
    response = small.client.get(f"/evidence/{digest}", headers=small.admin.headers)
    assert (response.status_code, response.content) == (200, data)
    assert response.headers["content-type"] == "image/png"


@pytest.mark.parametrize(("sha", "status"), [("ab" * 32, 404), ("not-a-sha", 422)])
def test_unknown_evidence(small: Api, sha: str, status: int) -> None:
    assert small.client.get(f"/evidence/{sha}", headers=small.admin.headers).status_code == status


def _blob_count(api: Api) -> int:
    with api.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Blob)) or 0)
