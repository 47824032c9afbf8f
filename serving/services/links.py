"""Signed evidence links: one file, until a set time, without a login.

Webhook messages (WeCom) and the daily report link the original images; a chat or a browser
sends no bearer token, so those links carry their own permission: ``exp`` (Unix seconds) and
``sig``, an HMAC-SHA256 over the file's path and ``exp`` under a key derived from the service's
secret for this purpose only. Changing the file, the time or the signature breaks the link (403).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from serving.config import Settings
from serving.labels import error_text
from serving.services.errors import Code, ForbiddenError, ServiceError
from serving.services.ticket_view import LOCAL_TZ

_PURPOSE = b"shirong evidence-link v1"
_EXP = re.compile(r"[0-9]{1,11}")  # Unix seconds (at most the year 5138: a datetime holds it)


def _signature(key: bytes, sha256: str, exp: str) -> str:
    digest = hmac.new(key, f"/evidence/{sha256}\n{exp}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class EvidenceLinks:
    """Links made at one moment (a message, a report), all expiring ``ttl`` after it."""

    base_url: str
    key: bytes
    expires: int

    @classmethod
    def of(cls, settings: Settings, now: datetime) -> EvidenceLinks:
        key = hmac.new(settings.secret, _PURPOSE, hashlib.sha256).digest()
        expires = now + timedelta(hours=settings.evidence_link_ttl_hours)
        return cls(settings.public_base_url.rstrip("/"), key, int(expires.timestamp()))

    def url(self, sha256: str) -> str:
        exp = str(self.expires)
        sig = _signature(self.key, sha256, exp)
        return f"{self.base_url}/evidence/{sha256}/signed?exp={exp}&sig={sig}"


def check(settings: Settings, sha256: str, exp: str, sig: str, now: datetime) -> None:
    """ForbiddenError (403) unless ``sig`` signs ``sha256`` until ``exp`` and ``exp`` is ahead.

    The signature is checked first, in constant time, so a changed ``exp`` reads as altered.
    """
    key = EvidenceLinks.of(settings, now).key
    expected = _signature(key, sha256, exp) if _EXP.fullmatch(exp) else ""
    if not (expected and hmac.compare_digest(expected.encode(), sig.encode())):
        raise ForbiddenError(
            "this evidence link is not valid: it was altered or is for another file",
            code=Code.LINK_INVALID,
        )
    if int(exp) <= now.timestamp():
        expired = datetime.fromtimestamp(int(exp), UTC).astimezone(LOCAL_TZ)
        raise ForbiddenError(
            f"this evidence link expired at {expired.isoformat()}; ask for a new one",
            code=Code.LINK_EXPIRED,
            params={"expired_at": expired.isoformat()},
        )


def error_page(exc: ServiceError) -> str:
    """Why a link does not open, for the chat's or browser's page: Chinese, then English."""
    chinese = html.escape(error_text(exc.code, exc.params, exc.message))
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{chinese}</title></head><body><p>{chinese}</p>"
        f'<p lang="en">{html.escape(exc.message)}</p></body></html>\n'
    )
