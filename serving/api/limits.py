"""Request body caps, per route, enforced on the byte stream as it is read.

A check of ``Content-Length`` alone misses chunked bodies, and a check after ``request.form()``
comes after the multipart parser has spooled the whole body to disk. This ASGI middleware counts
the bytes each ``receive()`` hands the app and stops the request at the cap: a declared length
over it is refused before the app runs, a stream that grows past it fails the read with 413 (the
multipart parser then closes, and so deletes, the files it spooled). Starlette's own
``max_body_size`` is fixed when routes are declared; these caps come from the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.config import Settings
from serving.services.errors import Code
from serving.services.jobs import GPS_MAX_BYTES

MULTIPART_SLACK = 64 * 1024  # room for the multipart boundaries and part headers
_CLOSE = {"Connection": "close"}  # the rest of the body is not read: end the connection


class Cap(NamedTuple):
    max_bytes: int
    setting: str  # what sets it, named in the 413


def route_caps(settings: Settings) -> dict[str, Cap]:
    """Caps of the upload routes (by path); every other body gets ``settings.request_max_bytes``."""
    framing = f"{MULTIPART_SLACK} bytes of multipart framing"
    return {
        "/evidence": Cap(
            settings.upload_max_bytes + MULTIPART_SLACK, f"SHIRONG_UPLOAD_MAX_BYTES + {framing}"
        ),
        "/ingest/photos": Cap(
            settings.photo_batch_max_bytes + MULTIPART_SLACK,
            f"SHIRONG_PHOTO_BATCH_MAX_BYTES + {framing}",
        ),
        "/ingest/videos": Cap(
            settings.video_max_bytes + GPS_MAX_BYTES + MULTIPART_SLACK,
            f"SHIRONG_VIDEO_MAX_BYTES + {GPS_MAX_BYTES} for a GPS track + {framing}",
        ),
    }


class BodyTooLargeError(HTTPException):
    """Raised from ``receive()``; an HTTPException, so FastAPI's handler answers it with 413."""

    def __init__(self, path: str, cap: Cap) -> None:
        super().__init__(413, _message(path, cap), headers=_CLOSE)


class BodyLimit:
    """ASGI middleware: no request body larger than its route's cap reaches the app."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.caps: Mapping[str, Cap] = route_caps(settings)
        self.default = Cap(settings.request_max_bytes, "SHIRONG_REQUEST_MAX_BYTES")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        cap = self.caps.get(path, self.default)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > cap.max_bytes:
            body = {"detail": _message(path, cap), "code": Code.TOO_LARGE, "params": {}}
            response = JSONResponse(body, 413, headers=_CLOSE)
            await response(scope, receive, send)
            return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap.max_bytes:
                    raise BodyTooLargeError(path, cap)
            return message

        await self.app(scope, capped, send)


def _message(path: str, cap: Cap) -> str:
    return f"request body is over {cap.max_bytes} bytes, the limit for {path} ({cap.setting})"


def _route_path(scope: Scope) -> str:
    """The path the router matches (without the ``root_path`` a proxy mounts the app under)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
