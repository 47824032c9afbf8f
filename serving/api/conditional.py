"""Conditional GET for lists that clients poll: a weak ETag over the answer, 304 when unchanged."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Header, Response

IfNoneMatch = Annotated[
    str | None, Header(max_length=1000, description="ETag of the page the client has.")
]
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Unchanged: the ETag sent in If-None-Match still matches."}
}


def conditional(body: bytes, if_none_match: str | None) -> Response:
    """``body`` as JSON with a weak ETag over its bytes, or 304 when the client has them.

    A hash of the body, not of a change marker: every field shown (sightings, tickets, boxes)
    moves it, whichever code path changed it; it costs one pass over bytes already built.
    """
    etag = f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    sent = {tag.strip().removeprefix("W/") for tag in (if_none_match or "").split(",")}
    if etag.removeprefix("W/") in sent or "*" in sent:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
