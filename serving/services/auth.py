"""Passwords (argon2id), opaque bearer tokens stored as keyed hashes, and login rate limiting.

Login limits throttle guesses, not people. Two budgets count failed logins in ``login_window_s``:

- per username+IP (``login_max_failures``): one account cannot be guessed at from one address;
- per IP over all usernames (``login_max_failures_per_ip``): new usernames buy no new guesses.

An address past its budget is throttled, not locked: behind a NAT or a proxy nobody trusts,
everyone shares it, and a lock would let one guesser (or a morning of typos) shut out every
colleague. A throttled address may still try each account once: an account with any failure
from it in the window is refused at once (429), any other attempt has its password checked, and
a right password logs in. So an account's own user, with no recent failure there, gets in; a
guesser gets at most one guess per account per window, and a wrong guess spends that account.

Every checked attempt pays for one hash, an unknown username too (against a dummy hash), so the
answer's timing does not tell which usernames exist; the only answer without a hash is the 429
for a username that already failed from the same address. Throttled checks take a slot of their
own (``login_max_concurrent_throttled_hashes``) before one of the shared ones, so a guessing
address, which now hashes for every new username, leaves the other slots to everyone else.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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
from serving.services.errors import BusyError, Code, RateLimitedError

# The 503 while the throttled slots are taken, as a rule by a guessing address's own attempts.
THROTTLED_BUSY = (
    "too many logins in progress from addresses with many failed logins; try again in a moment"
)

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
        self._throttled = Slots(
            settings.login_max_concurrent_throttled_hashes,
            settings.login_hash_wait_s,
            THROTTLED_BUSY,
            retry_after_s=1,
        )

    @contextmanager
    def slot(self, throttled: bool) -> Iterator[None]:
        """One of ``login_max_concurrent_hashes`` slots (BusyError after ``login_hash_wait_s``);
        a throttled login first takes one of ``login_max_concurrent_throttled_hashes``."""
        with self._throttled.hold() if throttled else nullcontext(), self._slots.hold():
            yield

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


def check_login_allowed(session: Session, settings: Settings, username: str, ip: str) -> bool:
    """Raise 429 once the window holds ``login_max_failures`` failures for this username+IP, or
    once this IP is past ``login_max_failures_per_ip`` over all usernames and this username has
    failed from it; True when this IP is past that budget (the attempt is throttled)."""
    window = timedelta(seconds=settings.login_window_s)
    same_user = LoginFailure.username == username
    user_count, user_oldest, user_newest, ip_count, ip_oldest = session.execute(
        select(
            func.count().filter(same_user),
            func.min(LoginFailure.at).filter(same_user),
            func.max(LoginFailure.at).filter(same_user),
            func.count(),
            func.min(LoginFailure.at),
        ).where(LoginFailure.ip == ip, LoginFailure.at > utcnow() - window)
    ).one()
    if user_count >= settings.login_max_failures:
        raise _limited(
            f"too many failed logins for '{username}' from this address", user_oldest, window
        )
    throttled: bool = ip_count >= settings.login_max_failures_per_ip
    if throttled and user_count:
        # Free at the earliest when this username's failures, or the address's oldest, leave.
        raise _limited(
            "too many failed logins from this address", min(user_newest, ip_oldest), window
        )
    return throttled


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
    """The user if the password is right; failures are rate-limited per username+IP and per IP
    (the module's docstring says how).

    The hash runs in a password slot, and a failure is committed before the slot is freed, so
    concurrent attempts see each other's failures (at most a slot's worth past the limits). An
    attempt whose address spent its budget while it waited for a shared slot is answered busy:
    it comes back to wait for a throttled one, so those bound a guessing address exactly.
    """
    username = username[:100].replace("\x00", "")  # any longer or odder name matches no user
    # A refused client waits for nothing.
    throttled = check_login_allowed(session, settings, username, ip)
    session.rollback()  # no connection held while waiting; the check below sees fresh failures
    with passwords.slot(throttled):
        if check_login_allowed(session, settings, username, ip) and not throttled:
            raise BusyError(THROTTLED_BUSY, retry_after_s=1)
        user = session.scalar(select(User).where(User.username == username))
        ok = passwords.verify(user.password_hash if user else None, password)
        if not ok or user is None or not user.active:
            record_login_failure(session, settings, username, ip)
            session.commit()
            return None
    clear_login_failures(session, username, ip)
    return user
