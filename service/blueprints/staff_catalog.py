"""The catalogue page for admins (`/staff/catalogue`): every clinic with its load, and
the switches routing obeys (taking new referrals, capacity)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from forms.staff_catalog import ClinicIntakeForm
from service import limits
from service.accounts.guard import current_staff, staff_required
from service.accounts.roles import ADMIN
from service.catalog import manage
from service.choices import countries
from service.extensions import db
from service.models import Clinic

bp = Blueprint("staff_catalog", __name__, url_prefix="/staff/catalogue")


@bp.get("")
@staff_required(ADMIN)
def index() -> str:
    return render_template(
        "staff/catalog/index.html", rows=manage.overview(), max_capacity=limits.MAX_CLINIC_CAPACITY,
        country_names=dict(countries()),
    )


@bp.post("/<slug>")
@staff_required(ADMIN)
def update(slug: str) -> Response:
    clinic = db.session.scalar(select(Clinic).where(Clinic.slug == slug))
    if clinic is None:
        abort(404, "There is no such clinic in the catalogue.")
    form = ClinicIntakeForm()
    back = redirect(url_for("staff_catalog.index", _anchor=f"clinic-{clinic.slug}"), 303)
    if not form.validate_on_submit():
        flash(f"{clinic.name}: {' '.join(form.capacity.errors) or 'the form could not be read; reload and try again.'}",
              "error")
        return back
    try:
        changes = manage.set_intake(
            clinic, accepting=form.accepting.data, capacity=form.capacity.data, actor=current_staff().email
        )
    except manage.CatalogError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return back
    db.session.commit()
    flash(f"{clinic.name}: {'; '.join(changes)}." if changes else f"{clinic.name}: nothing changed.", "success")
    return back
