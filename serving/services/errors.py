"""Service-level errors that the API maps to HTTP status codes, each with a stable ``code``.

A client shows an error in its user's language from ``code`` and ``params`` (the UI's texts are
in ``serving/ui/labels.json``); ``message`` is the English ``detail``, for logs and English users.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

Param = str | int | float | list[str]


class Code(StrEnum):
    """Every ``code`` an error body can carry; each has its Chinese text in labels.json."""

    BAD_REQUEST = "bad_request"
    HTTP_ERROR = "http_error"  # an HTTP error no code was given for (405, ...)
    SERVER_ERROR = "server_error"
    NOT_AUTHENTICATED = "not_authenticated"
    TOKEN_INVALID = "token_invalid"
    WRONG_CREDENTIALS = "wrong_credentials"
    FORBIDDEN = "forbidden"
    ROLE_NOT_ALLOWED = "role_not_allowed"  # params: role, roles
    NOT_YOUR_SQUAD = "not_your_squad"  # params: action, ticket_id
    LINK_INVALID = "link_invalid"
    LINK_EXPIRED = "link_expired"  # params: expired_at
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    CONCURRENT_CHANGE = "concurrent_change"
    INVALID_TRANSITION = "invalid_transition"  # params: action, ticket_id, status, statuses
    INVALID = "invalid"
    REQUEST_INVALID = "request_invalid"  # params: fields
    VALUE_UNSTORABLE = "value_unstorable"
    NOTE_REQUIRED = "note_required"  # params: action
    AFTER_PHOTO_REQUIRED = "after_photo_required"
    RATE_LIMITED = "rate_limited"  # params: retry_after_s
    LOGIN_RATE_LIMITED = "login_rate_limited"  # params: retry_after_s
    BUSY = "busy"  # params: retry_after_s
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    WORKER_DIED = "worker_died"
    WORKERS_UNAVAILABLE = "workers_unavailable"


class ServiceError(Exception):
    """Base class; ``status_code`` is the HTTP status the API answers with, ``code`` the kind of
    error (each subclass has a default; pass a more specific one where a user sees it)."""

    status_code = 400
    code = Code.BAD_REQUEST

    def __init__(
        self, message: str, *, code: Code | None = None, params: Mapping[str, Param] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.params: dict[str, Param] = dict(params or {})


class UnauthorizedError(ServiceError):
    """No valid login: 401, with ``WWW-Authenticate: Bearer``."""

    status_code = 401
    code = Code.NOT_AUTHENTICATED


class NotFoundError(ServiceError):
    status_code = 404
    code = Code.NOT_FOUND


class ConflictError(ServiceError):
    """The request is valid but not in the resource's current state (e.g. illegal transition)."""

    status_code = 409
    code = Code.CONFLICT


class InvalidError(ServiceError):
    status_code = 422
    code = Code.INVALID


class ForbiddenError(ServiceError):
    status_code = 403
    code = Code.FORBIDDEN


class RateLimitedError(ServiceError):
    status_code = 429
    code = Code.RATE_LIMITED

    def __init__(
        self,
        message: str,
        retry_after_s: int,
        *,
        code: Code | None = None,
        params: Mapping[str, Param] | None = None,
    ) -> None:
        super().__init__(
            message, code=code, params={**(params or {}), "retry_after_s": retry_after_s}
        )
        self.retry_after_s = retry_after_s


class BusyError(RateLimitedError):
    """The server, not this client, is at capacity for this work: 503, with Retry-After."""

    status_code = 503
    code = Code.BUSY


class TooLargeError(ServiceError):
    status_code = 413
    code = Code.TOO_LARGE


class UnsupportedTypeError(ServiceError):
    status_code = 415
    code = Code.UNSUPPORTED_TYPE


class WorkerDiedError(ServiceError):
    """The worker process analysing a request's data died (a decoder crash, a lost node)."""

    status_code = 500
    code = Code.WORKER_DIED


class WorkersUnavailableError(ServiceError):
    """No worker can take the work now (the Ray cluster is unreachable): 503."""

    status_code = 503
    code = Code.WORKERS_UNAVAILABLE


# An absolute POSIX path of at least two parts: a '/' that starts a word (not inside a URL, a
# fraction or a relative path), then the path's characters up to whitespace, a quote, a bracket
# or a separator. One part (``/evidence``) names no folder of the server; messages name routes so.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/[^\s'\"`<>()\[\]{},;:/]+/[^\s'\"`<>()\[\]{},;:]*")


def redact_paths(text: str) -> str:
    """Replace every absolute path in ``text`` by its last part.

    Exception messages from decoders, the ONNX runtime or the OS name files by their server path
    (``/srv/shirong/evidence/videos/ab….mp4``); clients get ``ab….mp4``, the log keeps the path.
    """
    return _ABSOLUTE_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], text)
