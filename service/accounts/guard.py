"""Flask-Login wiring and `staff_required`: every staff route is behind it. A request is
signed in only while its server-side session (service/accounts/sessions.py) is live and
its user active: the loader checks both with one query, so a revoked, idle or expired
session, or a disabled user, loses access on the next request whatever cookie is sent."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Final, TypeVar, cast

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from service import i18n
from service.accounts import sessions
from service.accounts.roles import CLINIC, COORDINATOR, GRANTS
from service.extensions import db
from service.models import User, UserSession

login_manager = LoginManager()
F = TypeVar("F", bound=Callable[..., Any])

# Where the loader leaves why this request's session ended by itself (idle, expired).
_ENDED: Final = "staff_session_ended"
IDLE_MESSAGE: Final = "You were signed out after a period of inactivity. Sign in again."
SIGNED_OUT_EVERYWHERE: Final = "You have signed out everywhere: every browser signed in to your account is signed out."


class StaffLogin(UserMixin):
    """What Flask-Login keeps: the user row and the session, checked fresh on every request."""

    def __init__(self, user: User, record: UserSession) -> None:
        self.user = user
        self.record = record

    def get_id(self) -> str:
        return str(self.user.id)

    @property
    def is_active(self) -> bool:
        return bool(self.user.active)


@login_manager.user_loader
def _load(user_id: str) -> StaffLogin | None:
    record = sessions.find(session.get(sessions.KEY))
    if record is None or str(record.user_id) != user_id or not record.user.active:
        return None
    reason = sessions.ended(record)
    if reason is not None:
        g.setdefault(_ENDED, reason)
        return None
    return StaffLogin(record.user, record)


def current_staff() -> User:
    """The signed-in staff user (only inside a `staff_required` view)."""
    return cast(StaffLogin, current_user).user


def begin_session(user: User) -> None:
    """Sign `user` in to a new session: a new server-side record and a new cookie (the
    old contents are dropped, and a live session the cookie held is revoked, so no copy
    of the old cookie stays signed in). Commits."""
    previous = sessions.find(session.get(sessions.KEY))
    if previous is not None:
        sessions.revoke(previous, sessions.REPLACED, actor=user.email)
    # The zone the sign-in page's browser reported becomes the user's (times on their pages).
    zone = i18n.session_zone()
    if zone is not None:
        user.time_zone = zone
    session.clear()
    record, token = sessions.create(user)
    session[sessions.KEY] = token
    login_user(StaffLogin(user, record))
    db.session.commit()


def end_session() -> None:
    """Sign out: revoke this browser's session and empty the cookie. Commits."""
    record = sessions.find(session.get(sessions.KEY))
    if record is not None:
        sessions.revoke(record, sessions.SIGNED_OUT, actor=record.user.email)
        db.session.commit()
    logout_user()
    session.clear()


def end_own_sessions(login_endpoint: str) -> Response:
    """The signed-in user ends every session of theirs, this one included, and goes to
    `login_endpoint`; someone not signed in just goes there."""
    if current_user.is_authenticated:
        user = current_staff()
        sessions.revoke_all(user, sessions.EVERYWHERE, actor=user.email)
        db.session.commit()
        end_session()
        flash(SIGNED_OUT_EVERYWHERE, "success")
    return redirect(url_for(login_endpoint), 303)


def _ended_by_itself(login_endpoint: str) -> Response | None:
    """After the loader found this request's session idle or past its lifetime: the
    cookie emptied and the sign-in page with the reason; None for any other refusal."""
    reason = g.get(_ENDED)
    if reason not in (sessions.IDLE, sessions.EXPIRED):
        return None
    logout_user()
    session.pop(sessions.KEY, None)
    if reason == sessions.IDLE:
        flash(IDLE_MESSAGE, "info")
    else:
        hours = sessions.max_hours()
        flash(f"Sessions last at most {hours} hour{'' if hours == 1 else 's'}: sign in again.", "info")
    return redirect(url_for(login_endpoint, next=request.full_path))


def staff_required(role: str = COORDINATOR) -> Callable[[F], F]:
    """Signed-in, active, with a role that grants `role`; otherwise sign-in (401 for
    anonymous, after the redirect) or 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return _ended_by_itself("staff_auth.login") or login_manager.unauthorized()
            sessions.touch(cast(StaffLogin, current_user).record)
            i18n.use_zone(current_staff().time_zone)
            if current_staff().role not in GRANTS[role]:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def clinic_required(view: F) -> F:
    """A signed-in, active clinic user (their clinic is `current_staff().clinic`);
    anonymous visitors go to the clinic sign-in page, other roles get 403."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _ended_by_itself("clinic_auth.login") or redirect(
                url_for("clinic_auth.login", next=request.full_path))
        sessions.touch(cast(StaffLogin, current_user).record)
        user = current_staff()
        i18n.use_zone(user.time_zone)
        if user.role not in GRANTS[CLINIC] or user.clinic_id is None:
            abort(403)
        return view(*args, **kwargs)

    return cast(F, guarded)


def _forget_user(_exc: BaseException | None) -> None:
    """Flask-Login caches the user in `g`, which lives as long as the app context; an
    app context shared by several requests (as in tests) must not carry one request's
    user (or the reason their session ended) into the next."""
    g.pop("_login_user", None)
    g.pop(_ENDED, None)


def init_app(app: Flask) -> None:
    app.teardown_request(_forget_user)
    login_manager.init_app(app)
    login_manager.login_view = "staff_auth.login"
    login_manager.login_message = "Sign in to open the staff console."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
