"""Clinic users sign in and out of the clinic portal (`/clinic/login`). The rules
(lockout, rate limit, disabled accounts) are the staff console's, in
`service.accounts.signin`; only clinic accounts are let in here."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Final

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from service.accounts import ratelimit, signin
from service.accounts.forms import LoginForm
from service.accounts.guard import LAST_SEEN, StaffLogin
from service.accounts.roles import CLINIC
from service.models import User

bp = Blueprint("clinic_auth", __name__, url_prefix="/clinic")
SIGNIN_ENDPOINTS: Final = ("clinic_auth.login",)
NOT_A_CLINIC_ACCOUNT: Final = "This is not a clinic account. Agency staff sign in at /staff/login."


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(RateLimitExceeded)
def _too_many_attempts(_exc: RateLimitExceeded) -> Response:
    seconds = ratelimit.seconds_until_reset()
    body = render_template("clinic/auth/login.html", form=LoginForm(), error=signin.lockout_message(seconds))
    return Response(body, 429, headers={"Retry-After": str(seconds)})


def _home() -> str:
    return url_for("clinic_portal.index")


def sign_in(user: User, next_url: str | None) -> Response:
    """A fresh session for the clinic user (also used by the one-time sign-in link)."""
    signin.complete(user)
    session.clear()
    login_user(StaffLogin(user))
    session[LAST_SEEN] = datetime.now(timezone.utc).timestamp()
    return redirect(next_url or _home(), 303)


def _page(form: LoginForm, status: int = 200, error: str | None = None) -> tuple[str, int]:
    return render_template("clinic/auth/login.html", form=form, error=error), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    next_url = signin.safe_next(request.values.get("next"), prefix="/clinic/")
    if current_user.is_authenticated and current_user.user.role == CLINIC:
        return redirect(next_url or _home())
    form = LoginForm()
    if request.method == "GET":
        form.next.data = next_url or ""
        return _page(form)
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        user = signin.check_password(form.email.data, form.password.data)
    except signin.Refused as refusal:
        if refusal.failed:
            ratelimit.count_failure()
        return _page(form, refusal.status, refusal.message)
    if user.role != CLINIC or user.clinic_id is None:
        return _page(form, 403, NOT_A_CLINIC_ACCOUNT)
    return sign_in(user, next_url)


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("clinic_auth.login"), 303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
