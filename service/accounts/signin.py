"""Signing staff in: password, per-account lockout, optional TOTP step. The rules live
here; the view only renders them. Each step commits, because a failed attempt has to be
remembered even though the request fails.

Nothing a stranger sees tells whether an email address has an account: a wrong address
and a wrong password get the same message, cost the same argon2 verification, and lock
out after the same number of tries."""
from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Final
from urllib.parse import urlsplit

from flask import current_app, session
from limits import RateLimitItemPerMinute
from sqlalchemy import or_, update

from service import throttling
from service.accounts import totp
from service.accounts.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password
from service.accounts.roles import ADMIN
from service.accounts.users import find_by_email
from service.extensions import db
from service.models import User

log = logging.getLogger(__name__)

MAX_FAILED_SIGNINS: Final = 5
LOCKOUT: Final = timedelta(minutes=15)
# How long the password step stays good while the user fetches their code.
PENDING_TTL: Final = timedelta(minutes=5)
_PENDING: Final = "staff_pending_signin"

INVALID: Final = "The email address or password is not right."
DISABLED: Final = "This account has been disabled. Ask an administrator if you need access again."
ADMIN_NEEDS_TOTP: Final = (
    "Administrators must sign in with a second factor, and this account has none yet. "
    "Ask another administrator to enrol you (flask --app wsgi users totp EMAIL)."
)
WRONG_CODE: Final = "That code is not right. Enter the code your authenticator app shows now."
USED_CODE: Final = "That code has already been used. Wait for the next code in your app and enter it."
PENDING_EXPIRED: Final = "Signing in took too long. Enter your email address and password again."

# Stand-in for accounts that do not exist, kept in the rate-limit storage so that a
# wrong address locks out exactly like a wrong password.
_UNKNOWN_ACCOUNT: Final = RateLimitItemPerMinute(MAX_FAILED_SIGNINS - 1, int(LOCKOUT.total_seconds() // 60))


def lockout_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many failed sign-ins. Try again in {minutes} minute{'' if minutes == 1 else 's'}."


@dataclass(eq=False)
class Refused(Exception):
    """Sign-in refused: what to tell the person, the HTTP status, and whether the attempt
    counts against the client's address."""

    message: str
    status: int = 401
    failed: bool = True

    def __str__(self) -> str:
        return self.message


def _now() -> datetime:
    return datetime.now(timezone.utc)


@cache
def _dummy_hash() -> str:
    return hash_password("not a password of anybody's " + "x" * MIN_LENGTH)


def _unknown_account_failure(email: str) -> Refused:
    key = (current_app.config["RATELIMIT_KEY_PREFIX"], "staff-unknown-account",
           hashlib.sha256(email.strip().lower().encode()).hexdigest())
    strategy = throttling.limiter_for().limiter
    try:
        if strategy.hit(_UNKNOWN_ACCOUNT, *key):
            return Refused(INVALID)
        reset = strategy.get_window_stats(_UNKNOWN_ACCOUNT, *key).reset_time
    except Exception:
        log.warning("rate-limit storage unavailable; unknown-account attempts not counted", exc_info=True)
        return Refused(INVALID)
    return Refused(lockout_message(reset - _now().timestamp()), 429)


def _locked(user: User, now: datetime) -> Refused | None:
    if user.locked_until is not None and user.locked_until > now:
        return Refused(lockout_message((user.locked_until - now).total_seconds()), 429)
    return None


def _record_failure(user: User, now: datetime, message: str = INVALID) -> Refused:
    """Count the failure atomically (concurrent guesses all count); the fifth locks."""
    count = db.session.execute(
        update(User).where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    if count >= MAX_FAILED_SIGNINS:
        db.session.execute(
            update(User).where(User.id == user.id).values(failed_logins=0, locked_until=now + LOCKOUT),
            execution_options={"synchronize_session": False},
        )
        log.warning("staff user %s locked out after %d failed sign-ins", user.email, count)
        db.session.commit()
        return Refused(lockout_message(LOCKOUT.total_seconds()), 429)
    db.session.commit()
    return Refused(message)


def check_password(email: str, password: str) -> User:
    """The user whose email and password these are, allowed to sign in; else `Refused`."""
    user = find_by_email(email)
    if user is None:
        verify_password(_dummy_hash(), password)
        raise _unknown_account_failure(email)
    now = _now()
    if refusal := _locked(user, now):
        raise refusal
    if not verify_password(user.password_hash, password):
        raise _record_failure(user, now)
    if not user.active:
        raise Refused(DISABLED, 403, failed=False)
    if user.role == ADMIN and not user.totp_secret and current_app.config["STAFF_ADMIN_TOTP"]:
        raise Refused(ADMIN_NEEDS_TOTP, 403, failed=False)
    if needs_rehash(user.password_hash) and len(password) >= MIN_LENGTH:
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def needs_code(user: User) -> bool:
    return bool(user.totp_secret)


def check_code(user: User, code: str) -> None:
    """Accept the TOTP code once: the step it belongs to must come after the previous
    sign-in. The check and the claim are one conditional UPDATE, so two processes given
    the same code cannot both accept it."""
    now = _now()
    if refusal := _locked(user, now):
        raise refusal
    if not user.active:
        raise Refused(DISABLED, 403, failed=False)
    step = totp.matched_step(user.totp_secret or "", code, now)
    if step is None:
        raise _record_failure(user, now, WRONG_CODE)
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id)
        .where(or_(User.last_login_at.is_(None), User.last_login_at < totp.fresh_after(step)))
        .values(last_login_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.commit()
    if claimed != 1:
        raise Refused(USED_CODE)


def complete(user: User) -> None:
    """Record a successful sign-in; the failure count starts again."""
    db.session.refresh(user)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = _now()
    db.session.commit()
    log.info("staff user %s signed in", user.email)


def begin_second_step(user: User, next_url: str | None) -> None:
    session[_PENDING] = {"user": user.id, "until": (_now() + PENDING_TTL).timestamp(), "next": next_url}


def pending() -> tuple[User, str | None] | None:
    """The user who passed the password step in this session, and where they were going;
    None if nobody did; `Refused` once the step has expired."""
    state = session.get(_PENDING)
    if not state:
        return None
    user = db.session.get(User, state["user"])
    if user is None or state["until"] < _now().timestamp():
        session.pop(_PENDING, None)
        raise Refused(PENDING_EXPIRED, failed=False)
    return user, state.get("next")


def safe_next(raw: str | None, prefix: str = "/staff/") -> str | None:
    """`next` only when it is a path inside the console `prefix` names (the staff
    console, or the clinic portal) on this site, and not its sign-in pages."""
    if not raw or any(c in raw for c in "\\\r\n\t"):
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or ".." in parts.path.split("/"):
        return None
    if parts.path != prefix.rstrip("/") and not parts.path.startswith(prefix):
        return None
    if parts.path.rstrip("/").startswith((f"{prefix}login", f"{prefix}logout")):
        return None
    return raw
