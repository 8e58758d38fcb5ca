"""The page a password reset link opens (`service.accounts.password_reset`): staff at
/staff/reset/<token> in the console's layout, clinic users at /clinic/reset/<token> in
the portal's. Nobody is signed in by it: the user signs in afterwards with the new
password (and the new second factor), like any other day."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from forms.accounts import ResetPasswordForm
from service.accounts import password_reset
from service.accounts.passwords import MIN_LENGTH
from service.accounts.roles import CLINIC
from service.accounts.users import AccountError
from service.blueprints import private
from service.extensions import db

bp = Blueprint("password_reset", __name__)
bp.after_request(private)


def _render(template: str, status: int, **values: object) -> tuple[str, int]:
    return render_template(template, min_length=MIN_LENGTH, **values), status


def _page(token: str, clinic: bool) -> Response | tuple[str, int]:
    template = "clinic/auth/reset.html" if clinic else "staff/auth/reset.html"
    try:
        reset = password_reset.check(token)
    except password_reset.LinkRefused as refusal:
        return _render(template, 410, error=str(refusal))
    if (reset.user.role == CLINIC) != clinic:
        # A link is printed for the user's own side; the other side's page sends them there.
        return redirect(url_for("password_reset.clinic" if reset.user.role == CLINIC else "password_reset.staff",
                                token=token), 303)
    form = ResetPasswordForm()
    if not form.is_submitted():
        return _render(template, 200, form=form, reset=reset, token=token)
    valid = form.validate()
    if valid and reset.totp_secret is not None and not form.code.data:
        form.code.errors = [*form.code.errors, "Enter the 6-digit code your authenticator app shows for the new key."]
        valid = False
    if not valid:
        return _render(template, 422, form=form, reset=reset, token=token)
    try:
        user = password_reset.complete(token, form.password.data, form.code.data or None)
    except password_reset.LinkRefused as refusal:
        return _render(template, 410, error=str(refusal))
    except AccountError as exc:
        field = form[exc.field or "password"]
        field.errors = [*field.errors, str(exc)]
        return _render(template, 422, form=form, reset=reset, token=token)
    db.session.commit()
    flash("Your new password is set. Sign in with it"
          + (" and a code from the new key in your app." if reset.totp_secret else "."), "success")
    return redirect(url_for("clinic_auth.login" if user.role == CLINIC else "staff_auth.login"), 303)


@bp.route("/staff/reset/<token>", methods=["GET", "POST"])
def staff(token: str) -> Response | tuple[str, int]:
    return _page(token, clinic=False)


@bp.route("/clinic/reset/<token>", methods=["GET", "POST"])
def clinic(token: str) -> Response | tuple[str, int]:
    return _page(token, clinic=True)
