"""Staff sign-in and sign-out, the staff console's front door, and the admin users page.
The rules are in `service.accounts.signin` and `service.accounts.users`."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Final

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from werkzeug.wrappers import Response

from forms.accounts import CapacityForm, CodeForm, CreateUserForm, FullNameForm, LoginForm
from service import limits, outbox, throttling
from service.accounts import password_reset, sessions, signin, signin_throttle
from service.accounts import users as accounts
from service.accounts.guard import begin_session, current_staff, end_own_sessions, end_session, staff_required
from service.accounts.nav import staff_nav
from service.accounts.roles import ADMIN, CLINIC
from service.extensions import db
from service.models import User


bp = Blueprint("staff_auth", __name__, url_prefix="/staff")
SIGNIN_ENDPOINTS: Final = ("staff_auth.login", "staff_auth.code")
CLINIC_ACCOUNT: Final = "This is a clinic account: sign in at the clinic portal, /clinic/login."


@bp.after_request
def _no_store(response: Response) -> Response:
    """Sign-in pages and the user list must not linger in shared caches or history."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(RateLimitExceeded)
def _too_many_attempts(_exc: RateLimitExceeded) -> Response:
    seconds = throttling.seconds_until_reset()
    body = render_template("staff/auth/login.html", form=LoginForm(), error=signin.lockout_message(seconds))
    return Response(body, 429, headers={"Retry-After": str(seconds)}, mimetype="text/html")


@bp.get("/")
@staff_required()
def index() -> Response | str:
    """The console's first page: the queue, else whatever the user's navigation offers."""
    items = staff_nav()
    if items:
        return redirect(url_for(items[0].endpoint))
    return render_template("staff/auth/home.html")


def _login_page(form: LoginForm, status: int = 200, error: str | None = None) -> tuple[str, int]:
    return render_template("staff/auth/login.html", form=form, error=error), status


def _refused(template: str, form: LoginForm | CodeForm, refusal: signin.Refused) -> tuple[str, int]:
    if refusal.failed:
        signin_throttle.count_failure()
    return render_template(template, form=form, error=refusal.message), refusal.status


def _sign_in(user: User, next_url: str | None) -> Response:
    signin.complete(user)
    begin_session(user)
    return redirect(next_url or url_for("staff_auth.index"), 303)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    next_url = signin.safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        if current_user.user.role == CLINIC:
            return redirect(url_for("clinic_auth.login"))
        return redirect(next_url or url_for("staff_auth.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = next_url or ""
        return _login_page(form)
    if not form.validate_on_submit():
        return _login_page(form, 422)
    try:
        user = signin.check_password(form.email.data, form.password.data)
    except signin.Refused as refusal:
        return _refused("staff/auth/login.html", form, refusal)
    if user.role == CLINIC:
        return _login_page(form, 403, CLINIC_ACCOUNT)
    if signin.needs_code(user):
        signin.begin_second_step(user, next_url)
        return redirect(url_for("staff_auth.code"), 303)
    return _sign_in(user, next_url)


@bp.route("/login/code", methods=["GET", "POST"])
def code() -> Response | tuple[str, int]:
    try:
        state = signin.pending()
    except signin.Refused as refusal:
        flash(refusal.message, "error")
        return redirect(url_for("staff_auth.login"), 303)
    if state is None:
        return redirect(url_for("staff_auth.login"), 303)
    user, next_url = state
    form = CodeForm()
    if request.method == "GET":
        return render_template("staff/auth/code.html", form=form), 200
    if not form.validate_on_submit():
        return render_template("staff/auth/code.html", form=form), 422
    try:
        signin.check_code(user, form.code.data)
    except signin.Refused as refusal:
        form.code.data = ""
        return _refused("staff/auth/code.html", form, refusal)
    return _sign_in(user, next_url)


@bp.post("/logout")
def logout() -> Response:
    """Sign out this browser: its session is revoked, so a copy of the cookie is no use."""
    end_session()
    flash("You have signed out.", "success")
    return redirect(url_for("staff_auth.login"), 303)


@bp.post("/sessions/revoke")
def sign_out_all() -> Response:
    """Sign out everywhere: every session of the signed-in user ends, this one too."""
    return end_own_sessions("staff_auth.login")


def _users_page(form: CreateUserForm, status: int = 200) -> tuple[str, int]:
    page = accounts.page_of_users(request.args.get("page", 1, type=int))
    return render_template(
        "staff/auth/users.html", page=page, form=form, me=current_staff(),
        now=datetime.now(timezone.utc), max_capacity=limits.MAX_COORDINATOR_CAPACITY,
        live_sessions=sessions.live_counts(user.id for user in page.items),
        reset_hours=password_reset.ttl_hours(),
    ), status


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, "There is no such staff account.")
    return user


def _back_to_users() -> Response:
    return redirect(url_for("staff_auth.users", page=request.args.get("page", type=int)), 303)


@bp.get("/users")
@staff_required(ADMIN)
def users() -> tuple[str, int]:
    return _users_page(CreateUserForm())


@bp.post("/users")
@staff_required(ADMIN)
def create_user() -> Response | tuple[str, int]:
    form = CreateUserForm()
    if not form.validate_on_submit():
        return _users_page(form, 422)
    try:
        user = accounts.create_user(
            form.email.data, form.role.data, form.password.data,
            capacity=form.capacity.data, clinic_slug=form.clinic.data or None, actor=current_staff().email,
            full_name=form.full_name.data,
        )
    except accounts.AccountError as exc:
        field = form[exc.field or "email"]
        field.errors = [*field.errors, str(exc)]
        return _users_page(form, 422)
    db.session.commit()
    of_clinic = f" of {user.clinic.name}" if user.clinic else ""
    flash(f"Account created for {user.email} ({user.role}{of_clinic}). Give them the initial password "
          "in person or by phone, never by email.", "success")
    return _back_to_users()


@bp.post("/users/<int:user_id>/disable")
@staff_required(ADMIN)
def disable_user(user_id: int) -> Response:
    user = _user_or_404(user_id)
    if user.id == current_staff().id:
        flash("You cannot disable your own account; ask another administrator.", "error")
        return _back_to_users()
    accounts.set_active(user, False, actor=current_staff().email)
    db.session.commit()
    flash(f"{user.email} is disabled and was signed out everywhere.", "success")
    return _back_to_users()


@bp.post("/users/<int:user_id>/enable")
@staff_required(ADMIN)
def enable_user(user_id: int) -> Response:
    user = _user_or_404(user_id)
    accounts.set_active(user, True, actor=current_staff().email)
    db.session.commit()
    flash(f"{user.email} can sign in again.", "success")
    return _back_to_users()


@bp.post("/users/<int:user_id>/sessions/revoke")
@staff_required(ADMIN)
def revoke_user_sessions(user_id: int) -> Response:
    """An admin signs a user out everywhere (a lost laptop, a shared computer); on their
    own account it is their own "sign out everywhere"."""
    user = _user_or_404(user_id)
    me = current_staff()
    if user.id == me.id:
        return end_own_sessions("staff_auth.login")
    ended = accounts.sign_out_everywhere(user, actor=me.email)
    db.session.commit()
    flash(f"{user.email} was signed out everywhere ({ended} session{'' if ended == 1 else 's'} ended).", "success")
    return _back_to_users()


@bp.post("/users/<int:user_id>/reset")
@staff_required(ADMIN)
def send_reset_link(user_id: int) -> Response:
    """An admin e-mails a staff or clinic user a one-time link to set a new password (and
    second factor), as the sign-in pages tell people who forgot theirs to ask for."""
    user = _user_or_404(user_id)
    if user.id == current_staff().id:
        flash("You cannot send yourself a reset link (it would sign you out here); ask another administrator.",
              "error")
        return _back_to_users()
    try:
        password_reset.request_reset(user, actor=current_staff().email)
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return _back_to_users()
    outbox.commit()
    flash(f"A reset link is on its way to {user.email} (it works once, for {password_reset.ttl_hours()} hours); "
          "they were signed out everywhere.", "success")
    return _back_to_users()


@bp.post("/users/<int:user_id>/capacity")
@staff_required(ADMIN)
def set_capacity(user_id: int) -> Response:
    user = _user_or_404(user_id)
    form = CapacityForm()
    if not form.validate_on_submit():
        flash(f"{user.email}: {' '.join(form.capacity.errors)}", "error")
        return _back_to_users()
    accounts.set_capacity(user, form.capacity.data, actor=current_staff().email)
    db.session.commit()
    flash(f"{user.email} can now hold {user.capacity} open cases.", "success")
    return _back_to_users()


@bp.post("/users/<int:user_id>/name")
@staff_required(ADMIN)
def set_full_name(user_id: int) -> Response:
    user = _user_or_404(user_id)
    form = FullNameForm()
    if not form.validate_on_submit():
        flash(f"{user.email}: {' '.join(form.full_name.errors)}", "error")
        return _back_to_users()
    accounts.set_full_name(user, form.full_name.data, actor=current_staff().email)
    db.session.commit()
    flash(f"{user.email} is now named {user.full_name}." if user.full_name else f"{user.email} has no name now.",
          "success")
    return _back_to_users()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
