"""Clinic users sign in and out of the clinic portal (`/clinic/login`), with their
password or with a one-time link sent by email (`/clinic/login/link`). The password
rules (lockout, rate limit, disabled accounts) are the staff console's, in
`service.accounts.signin`; the link rules are in `service.accounts.signin_links`. Only
clinic accounts are let in here."""
from __future__ import annotations

import logging
from typing import Final

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from werkzeug.wrappers import Response

from flask_wtf import FlaskForm

from forms.accounts import LoginForm, SigninLinkForm
from service import outbox, throttling
from service.accounts import signin, signin_links, signin_throttle
from service.accounts.guard import begin_session, end_own_sessions, end_session
from service.accounts.roles import CLINIC
from service.extensions import db
from service.models import User

log = logging.getLogger(__name__)

bp = Blueprint("clinic_auth", __name__, url_prefix="/clinic")
SIGNIN_ENDPOINTS: Final = ("clinic_auth.login", "clinic_auth.link_request", "clinic_auth.link")
NOT_A_CLINIC_ACCOUNT: Final = "This is not a clinic account. Agency staff sign in at /staff/login."


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(RateLimitExceeded)
def _too_many_attempts(_exc: RateLimitExceeded) -> Response:
    seconds = throttling.seconds_until_reset()
    error = signin.lockout_message(seconds)
    if request.endpoint == "clinic_auth.login":
        body = render_template("clinic/auth/login.html", form=LoginForm(), error=error)
    else:
        body = render_template("clinic/auth/link_request.html", form=SigninLinkForm(), error=error)
    return Response(body, 429, headers={"Retry-After": str(seconds)}, mimetype="text/html")


def _home() -> str:
    return url_for("clinic_portal.index")


def sign_in(user: User, next_url: str | None) -> Response:
    """A fresh session for the clinic user (also used by the one-time sign-in link)."""
    signin.complete(user)
    begin_session(user)
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
            signin_throttle.count_failure()
        return _page(form, refusal.status, refusal.message)
    if user.role != CLINIC or user.clinic_id is None:
        return _page(form, 403, NOT_A_CLINIC_ACCOUNT)
    return sign_in(user, next_url)


def _link_page(form: SigninLinkForm, status: int = 200, error: str | None = None,
               sent_to: str | None = None) -> tuple[str, int]:
    return render_template("clinic/auth/link_request.html", form=form, error=error, sent_to=sent_to,
                           minutes=signin_links.ttl_minutes()), status


@bp.route("/login/link", methods=["GET", "POST"])
def link_request() -> Response | tuple[str, int]:
    """Ask for a one-time sign-in link. Every request counts against the client's
    address (this sends email, and known and unknown addresses must look alike), and
    every one does the same work, known address or not: it records the sending in the
    outbox, and the worker looks the address up and emails the link."""
    next_url = signin.safe_next(request.values.get("next"), prefix="/clinic/")
    form = SigninLinkForm()
    if request.method == "GET":
        return _link_page(form)
    if not form.validate_on_submit():
        return _link_page(form, 422)
    signin_throttle.count_failure()
    signin_links.request_link(form.email.data, next_url)
    outbox.commit()
    return _link_page(SigninLinkForm(formdata=None), sent_to=form.email.data)


@bp.route("/login/link/<token>", methods=["GET", "POST"])
def link(token: str) -> Response | tuple[str, int]:
    """The link from the email: a page with one button, so that mail scanners which
    open links do not use it up; pressing the button signs in."""
    next_url = signin.safe_next(request.values.get("next"), prefix="/clinic/")
    form = FlaskForm()
    try:
        if request.method == "POST" and form.validate_on_submit():
            user = signin_links.redeem(token)
            db.session.commit()
            return sign_in(user, next_url)
        user = signin_links.check(token)
    except signin_links.LinkRefused as refusal:
        if request.method == "POST":
            signin_throttle.count_failure()
        return _link_page(SigninLinkForm(formdata=None), 410, str(refusal))
    return render_template("clinic/auth/link_confirm.html", form=form, user=user, token=token,
                           next_url=next_url), 200 if request.method == "GET" else 400


@bp.post("/logout")
def logout() -> Response:
    """Sign out this browser: its session is revoked, so a copy of the cookie is no use."""
    end_session()
    flash("You have signed out.", "success")
    return redirect(url_for("clinic_auth.login"), 303)


@bp.post("/sessions/revoke")
def sign_out_all() -> Response:
    """Sign out everywhere: every session of the signed-in user ends, this one too."""
    return end_own_sessions("clinic_auth.login")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
