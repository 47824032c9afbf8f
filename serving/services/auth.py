"""Passwords (argon2id), opaque bearer tokens stored as keyed hashes, and login rate limiting."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import AuthToken, LoginFailure, User
from serving.services.concurrency import Slots
from serving.services.errors import Code, RateLimitedError

# Verified against when the username is unknown, so a miss costs as much time as a wrong password.
_DUMMY_PASSWORD = "not-a-real-password"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class Passwords:
    """argon2id hashing with costs taken from the settings, and the slots logins check in."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
        )
        self._dummy = self._hasher.hash(_DUMMY_PASSWORD)
        # A flood of logins costs at most this many hashes' memory; the rest get 503 at once.
        self._slots = Slots(
            settings.login_max_concurrent_hashes,
            settings.login_hash_wait_s,
            "too many logins in progress; try again in a moment",
            retry_after_s=1,
        )

    def slot(self) -> AbstractContextManager[None]:
        """One of ``login_max_concurrent_hashes`` slots (BusyError after ``login_hash_wait_s``)."""
        return self._slots.hold()

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
    """Raise 429 once the window holds ``login_max_failures`` failures for this username+IP, or
    ``login_max_failures_per_ip`` for this IP over all usernames (so new names buy no attempts)."""
    window = timedelta(seconds=settings.login_window_s)
    same_user = LoginFailure.username == username
    user_count, user_oldest, ip_count, ip_oldest = session.execute(
        select(
            func.count().filter(same_user),
            func.min(LoginFailure.at).filter(same_user),
            func.count(),
            func.min(LoginFailure.at),
        ).where(LoginFailure.ip == ip, LoginFailure.at > utcnow() - window)
    ).one()
    if user_count >= settings.login_max_failures:
        raise _limited(
            f"too many failed logins for '{username}' from this address", user_oldest, window
        )
    if ip_count >= settings.login_max_failures_per_ip:
        raise _limited("too many failed logins from this address", ip_oldest, window)


def _limited(reason: str, oldest: datetime, window: timedelta) -> RateLimitedError:
    """429 with Retry-After: when the oldest counted failure leaves the window."""
    retry = (oldest + window - utcnow()).total_seconds()
    return RateLimitedError(
        f"{reason}; try again later",
        retry_after_s=max(1, math.ceil(retry)),
        code=Code.LOGIN_RATE_LIMITED,
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
    """The user if the password is right; failures are rate-limited per username+IP and per IP.

    The hash runs in a password slot, and a failure is committed before the slot is freed, so
    concurrent attempts see each other's failures (at most a slot's worth past the limits).
    """
    username = username[:100].replace("\x00", "")  # any longer or odder name matches no user
    check_login_allowed(session, settings, username, ip)  # a locked-out client waits for nothing
    session.rollback()  # no connection held while waiting; the check below sees fresh failures
    with passwords.slot():
        check_login_allowed(session, settings, username, ip)
        user = session.scalar(select(User).where(User.username == username))
        ok = passwords.verify(user.password_hash if user else None, password)
        if not ok or user is None or not user.active:
            record_login_failure(session, settings, username, ip)
            session.commit()
            return None
    clear_login_failures(session, username, ip)
    return user
