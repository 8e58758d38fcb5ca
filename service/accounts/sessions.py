"""Server-side sessions of staff and clinic users.

Flask's session is a signed cookie that the browser holds: signing out cannot take a
copy of it back. So every sign-in also records a `UserSession` and puts a random token
in the cookie, and each request is signed in only while the token's row is live: not
revoked, seen within STAFF_SESSION_IDLE_MINUTES, and before its `expires_at`
(STAFF_SESSION_MAX_HOURS after sign-in). Looking it up is one query, with the user.
The timers are the row's, not the cookie's, so no copy of a cookie outlives them.

Signing out revokes the row; "sign out everywhere", deactivation, a new password and a
new second factor revoke every row of the user at once. The rows stay: who ended a
session, when and why is the record (with a log line, as for every account change).
Nothing here commits; the caller does."""
from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Final

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import contains_eager

from service.extensions import db
from service.models import User, UserSession
from service.sqlite_locks import release_snapshot

log = logging.getLogger(__name__)

# The Flask session key holding the token.
KEY: Final = "staff_session"
# `last_seen_at` is written at most this often: one small write a minute per active
# session instead of one a request. The idle timeout may so end a session up to this
# much early, never late.
TOUCH_EVERY: Final = timedelta(minutes=1)

# Why a session was revoked (`UserSession.revoked_reason`).
SIGNED_OUT: Final = "signed_out"
EVERYWHERE: Final = "signed_out_everywhere"
REPLACED: Final = "replaced_by_sign_in"
DISABLED: Final = "account_disabled"
PASSWORD_SET: Final = "password_set"
TOTP_SET: Final = "second_factor_set"
RESET: Final = "reset_link_sent"
REASONS: Final = (SIGNED_OUT, EVERYWHERE, REPLACED, DISABLED, PASSWORD_SET, TOTP_SET, RESET)
# Why a session that nobody revoked has ended (not stored: the timestamps say it).
IDLE: Final = "idle"
EXPIRED: Final = "expired"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def idle_limit() -> timedelta:
    return timedelta(minutes=current_app.config["STAFF_SESSION_IDLE_MINUTES"])


def max_hours() -> int:
    return int(current_app.config["STAFF_SESSION_MAX_HOURS"])


def create(user: User) -> tuple[UserSession, str]:
    """A new session of `user`, and the token for the cookie (kept nowhere else)."""
    token = secrets.token_urlsafe(32)
    now = _now()
    row = UserSession(user=user, token_hash=_digest(token), created_at=now, last_seen_at=now,
                      expires_at=now + timedelta(hours=max_hours()))
    db.session.add(row)
    db.session.flush()
    return row, token


def find(token: object) -> UserSession | None:
    """The session whose token this is, with its user loaded (one query), live or not."""
    if not isinstance(token, str) or not token:
        return None
    return db.session.scalar(
        select(UserSession).join(UserSession.user).options(contains_eager(UserSession.user))
        .where(UserSession.token_hash == _digest(token))
    )


def ended(row: UserSession, now: datetime | None = None) -> str | None:
    """Why the session is over (a revocation reason, IDLE or EXPIRED); None while live."""
    now = now or _now()
    if row.revoked_at is not None:
        return row.revoked_reason or SIGNED_OUT
    if now >= row.expires_at:
        return EXPIRED
    if now - row.last_seen_at > idle_limit():
        return IDLE
    return None


def touch(row: UserSession) -> None:
    """Record that the session was used now, when the last record is a minute old, and
    commit: this runs before the view does anything, so nothing else is pending.

    On SQLite the request's read snapshot is let go first, so that the write begins a
    transaction of its own, which can wait for the write lock (a write after a read in
    one deferred transaction cannot); hence the compare-and-set: a row revoked
    meanwhile is left as it is."""
    now = _now()
    if now - row.last_seen_at < TOUCH_EVERY:
        return
    row_id = row.id
    release_snapshot(db.session)
    db.session.execute(
        update(UserSession).where(UserSession.id == row_id, UserSession.revoked_at.is_(None))
        .values(last_seen_at=now),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()


def revoke(row: UserSession, reason: str, *, actor: str) -> None:
    """End one session (this browser's), if it is not over already."""
    if row.revoked_at is not None:
        return
    row.revoked_at = _now()
    row.revoked_reason = reason
    row.revoked_by = actor
    db.session.flush()


def revoke_all(user: User, reason: str, *, actor: str) -> int:
    """End every session of `user` at once; how many were ended. Idle ones are marked
    too, so that a longer idle limit later cannot bring them back; those past their
    `expires_at` are over for good and left as they are."""
    now = _now()
    ended_count = db.session.execute(
        update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None),
                                  UserSession.expires_at > now)
        .values(revoked_at=now, revoked_reason=reason, revoked_by=actor),
        execution_options={"synchronize_session": "fetch"},
    ).rowcount
    log.info("staff user %s signed out everywhere (%s, %d session%s) by %s", user.email, reason, ended_count,
             "" if ended_count == 1 else "s", actor)
    return ended_count


def live_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """How many live sessions each of these users has (for the users page)."""
    ids = list(user_ids)
    if not ids:
        return {}
    now = _now()
    rows = db.session.execute(
        select(UserSession.user_id, func.count()).where(
            UserSession.user_id.in_(ids), UserSession.revoked_at.is_(None), UserSession.expires_at > now,
            UserSession.last_seen_at >= now - idle_limit(),
        ).group_by(UserSession.user_id)
    )
    return {user_id: count for user_id, count in rows}
