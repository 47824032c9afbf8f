"""Service-level errors that the API maps to HTTP status codes."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class; ``status_code`` is the HTTP status the API answers with."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ServiceError):
    status_code = 404


class ConflictError(ServiceError):
    """The request is valid but not in the resource's current state (e.g. illegal transition)."""

    status_code = 409


class InvalidError(ServiceError):
    status_code = 422


class ForbiddenError(ServiceError):
    status_code = 403


class RateLimitedError(ServiceError):
    status_code = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TooLargeError(ServiceError):
    status_code = 413


class UnsupportedTypeError(ServiceError):
    status_code = 415
