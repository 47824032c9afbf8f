"""Credential redaction: stream passwords must never reach a log line, an error or a status page.

Cameras are usually addressed as ``rtsp://user:password@host/...`` and some HTTP cameras take the
password as a query parameter, so every URL shown to a person goes through :func:`redact_url`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MASK = "***"

# Query parameters that carry secrets on common IP cameras and signed URLs (compared lower-case).
SECRET_PARAMS = frozenset(
    {"password", "passwd", "pwd", "pass", "token", "access_token", "auth", "key", "secret", "sig"}
)

# A URL runs to whitespace or a quote; trailing sentence punctuation is not part of it.
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,;:!?)]")


def redact_url(url: str) -> str:
    """Mask the password of a URL and the values of secret query parameters.

    ``rtsp://user:secret@host/x`` → ``rtsp://user:***@host/x``; ``http://h/v?pwd=s`` →
    ``http://h/v?pwd=***``. Text without ``://`` (a file path) is returned unchanged.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    return f"{scheme}://{_redact_authority(rest)}"


def redact_text(text: str) -> str:
    """Redact every URL inside free text, e.g. a third-party exception message."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def _redact_authority(rest: str) -> str:
    try:
        netloc = urlsplit(f"x://{rest}").netloc
    except ValueError:  # malformed, e.g. unbalanced IPv6 brackets: fall through to the '@' scan
        netloc = ""
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        return f"{_mask_userinfo(userinfo)}@{host}{_redact_query(rest[len(netloc) :])}"
    at = rest.rfind("@")
    if at >= 0 and ":" in rest[:at]:
        # An unencoded '/', '?' or '#' in the password hides it from urlsplit: treat everything up
        # to the last '@' as user info rather than risk printing the password.
        return f"{_mask_userinfo(rest[:at])}{_redact_query(rest[at:])}"
    return _redact_query(rest)


def _mask_userinfo(userinfo: str) -> str:
    user, sep, _password = userinfo.partition(":")
    return f"{user}:{MASK}" if sep else userinfo


def _redact_query(tail: str) -> str:
    path, sep, query = tail.partition("?")
    if not sep:
        return tail
    query, hash_sep, fragment = query.partition("#")
    pairs = []
    for pair in query.split("&"):
        name, eq, _value = pair.partition("=")
        pairs.append(f"{name}={MASK}" if eq and name.lower() in SECRET_PARAMS else pair)
    return f"{path}?{'&'.join(pairs)}{hash_sep}{fragment}"
