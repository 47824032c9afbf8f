"""Error bodies: every 422 has the published ``HTTPValidationError`` form, and no error shows a
server path (paths come in through exception messages: OpenCV, ONNX Runtime, the OS)."""

from __future__ import annotations

import pytest

from serving.services.errors import redact_paths
from tests.serving.helpers import Api, assert_published_422, png_bytes, upload


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "cannot open video /srv/ev/videos/ab12.mp4: corrupt",
            "cannot open video ab12.mp4: corrupt",
        ),
        ("ONNX model not found: /opt/models/v1/model.onnx", "ONNX model not found: model.onnx"),
        (
            "[Errno 2] No such file or directory: '/tmp/x/t.gpx'",
            "[Errno 2] No such file or directory: 't.gpx'",
        ),
        (
            "OpenCV(4.10.0) /io/opencv/modules/imgproc/src/resize.cpp:4152: error: (-215)",
            "OpenCV(4.10.0) resize.cpp:4152: error: (-215)",
        ),
        ("under /var/lib/shirong/", "under shirong"),
        # Not paths of the server: URLs (already credential-redacted), fractions, relative paths.
        (
            "rtsp://viewer:***@10.0.0.5:554/live/ch1 refused",
            "rtsp://viewer:***@10.0.0.5:554/live/ch1 refused",
        ),
        (
            "3/4 frames failed and/or timed out in videos/a.mp4",
            "3/4 frames failed and/or timed out in videos/a.mp4",
        ),
    ],
)
def test_redact_paths_keeps_file_names_only(text: str, shown: str) -> None:
    assert redact_paths(text) == shown


def test_every_kind_of_422_has_the_published_form(api: Api) -> None:
    ticket = {"clause": "5s", "description": "x", "complaint": False}
    cases = [
        # ServiceError (InvalidError) raised by a service
        ("POST", "/tickets", {"json": ticket}, "clause '5s' is not in the taxonomy"),
        # HTTPException(422, "...") raised by a route
        ("POST", "/evidence", {"data": {"note": "no file"}}, "'file'"),
        ("POST", "/ingest/photos", {"data": {"note": "x"}}, "'file'"),
        ("POST", "/ingest/videos", {"data": {"note": "x"}}, "'file'"),
        # FastAPI's own request validation, for comparison
        ("GET", "/incidents", {"params": {"limit": "many"}}, "integer"),
    ]
    for method, path, kwargs, message in cases:
        response = api.client.request(method, path, headers=api.admin.headers, **kwargs)
        assert message in assert_published_422(api, response, method, path), (method, path)


def test_an_undecodable_image_is_a_published_422(api: Api) -> None:
    response = upload(api, png_bytes()[:40])
    assert "cannot be decoded" in assert_published_422(api, response, "POST", "/evidence")


def test_a_value_the_database_cannot_store_is_a_published_422(api: Api, database_url: str) -> None:
    """``DataError`` is the client's: here a NUL byte, which PostgreSQL text cannot hold."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite stores NUL bytes")
    body = {"clause": "3a", "description": "a\x00b", "complaint": False}
    response = api.client.post("/tickets", json=body, headers=api.admin.headers)
    message = assert_published_422(api, response, "POST", "/tickets")
    assert message == "a value is out of range or not storable"
