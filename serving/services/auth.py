"""Passwords (argon2id), opaque bearer tokens stored as keyed hashes, and login rate limiting."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import AuthToken, LoginFailure, User
from serving.services.errors import RateLimitedError

# Verified against when the username is unknown, so a miss costs as much time as a wrong password.
_DUMMY_PASSWORD = "not-a-real-password"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class Passwords:
    """argon2id hashing with costs taken from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
        )
        self._dummy = self._hasher.hash(_DUMMY_PASSWORD)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and bool(stored_hash)
        except (VerificationError, InvalidHashError):
            return False


def token_hash(settings: Settings, token: str) -> str:
    return hmac.new(settings.secret, token.encode(), hashlib.sha256).hexdigest()


def issue_token(session: Session, settings: Settings, user: User) -> IssuedToken:
    """Create a random token; only its hash is kept, so a database leak reveals no tokens."""
    token = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(minutes=settings.token_ttl_minutes)
    session.add(
        AuthToken(token_hash=token_hash(settings, token), user_id=user.id, expires_at=expires)
    )
    return IssuedToken(token=token, expires_at=expires)


def user_for_token(session: Session, settings: Settings, token: str) -> User | None:
    """The active user a live token belongs to, or None."""
    row = session.scalar(
        select(AuthToken).where(AuthToken.token_hash == token_hash(settings, token))
    )
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def revoke_token(session: Session, settings: Settings, token: str) -> None:
    row = session.scalar(
        select(AuthToken).where(AuthToken.token_hash == token_hash(settings, token))
    )
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def check_login_allowed(session: Session, settings: Settings, username: str, ip: str) -> None:
    """Raise 429 once ``login_max_failures`` failures for this username+IP fall in the window."""
    since = utcnow() - timedelta(seconds=settings.login_window_s)
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.username == username, LoginFailure.ip == ip, LoginFailure.at > since
        )
    ).one()
    if count >= settings.login_max_failures:
        retry = (oldest + timedelta(seconds=settings.login_window_s) - utcnow()).total_seconds()
        raise RateLimitedError(
            f"too many failed logins for '{username}' from this address; try again later",
            retry_after_s=max(1, math.ceil(retry)),
        )


def record_login_failure(session: Session, settings: Settings, username: str, ip: str) -> None:
    """Count a failure; failures older than the window are dropped so the table stays small."""
    cutoff = utcnow() - timedelta(seconds=settings.login_window_s)
    session.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))
    session.add(LoginFailure(username=username, ip=ip))


def clear_login_failures(session: Session, username: str, ip: str) -> None:
    session.execute(
        delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.ip == ip)
    )


def authenticate(
    session: Session,
    settings: Settings,
    passwords: Passwords,
    username: str,
    password: str,
    ip: str,
) -> User | None:
    """The user if the password is right; failures are counted and rate-limited per username+IP."""
    username = username[:100].replace("\x00", "")  # any longer or odder name matches no user
    check_login_allowed(session, settings, username, ip)
    user = session.scalar(select(User).where(User.username == username))
    ok = passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        record_login_failure(session, settings, username, ip)
        return None
    clear_login_failures(session, username, ip)
    return user
