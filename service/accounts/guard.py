"""Flask-Login wiring and `staff_required`: every staff route is behind it, and a user
disabled by an admin loses access on their next request (the loader re-reads `active`)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, logout_user

from service.accounts.roles import CLINIC, COORDINATOR, GRANTS
from service.extensions import db
from service.models import User

login_manager = LoginManager()
F = TypeVar("F", bound=Callable[..., Any])

# Session key holding the time of the last request, for the inactivity timeout.
LAST_SEEN = "staff_last_seen"


class StaffLogin(UserMixin):
    """What Flask-Login keeps: the user row, checked fresh on every request."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)

    @property
    def is_active(self) -> bool:
        return bool(self.user.active)


@login_manager.user_loader
def _load(user_id: str) -> StaffLogin | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active:
        return None
    return StaffLogin(user)


def current_staff() -> User:
    """The signed-in staff user (only inside a `staff_required` view)."""
    return cast(StaffLogin, current_user).user


def _timed_out() -> bool:
    limit = timedelta(minutes=current_app.config["STAFF_SESSION_IDLE_MINUTES"])
    now = datetime.now(timezone.utc)
    last = session.get(LAST_SEEN)
    session[LAST_SEEN] = now.timestamp()
    return last is not None and now - datetime.fromtimestamp(last, timezone.utc) > limit


def staff_required(role: str = COORDINATOR) -> Callable[[F], F]:
    """Signed-in, active, with a role that grants `role`; otherwise sign-in (401 for
    anonymous, after the redirect) or 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if _timed_out():
                logout_user()
                session.pop(LAST_SEEN, None)
                flash("You were signed out after a period of inactivity. Sign in again.", "info")
                return redirect(url_for("staff_auth.login", next=request.full_path))
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
            return redirect(url_for("clinic_auth.login", next=request.full_path))
        if _timed_out():
            logout_user()
            session.pop(LAST_SEEN, None)
            flash("You were signed out after a period of inactivity. Sign in again.", "info")
            return redirect(url_for("clinic_auth.login", next=request.full_path))
        user = current_staff()
        if user.role not in GRANTS[CLINIC] or user.clinic_id is None:
            abort(403)
        return view(*args, **kwargs)

    return cast(F, guarded)


def _forget_user(_exc: BaseException | None) -> None:
    """Flask-Login caches the user in `g`, which lives as long as the app context; an
    app context shared by several requests (as in tests) must not carry one request's
    user into the next."""
    g.pop("_login_user", None)


def init_app(app: Flask) -> None:
    app.teardown_request(_forget_user)
    login_manager.init_app(app)
    login_manager.login_view = "staff_auth.login"
    login_manager.login_message = "Sign in to open the staff console."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
