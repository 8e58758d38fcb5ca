"""The trip page of a case (`/staff/cases/<reference>/trip`): who travels and every leg,
with a form for each (add, change, remove). A thin shell over `service.cases.trip`,
which checks and records; a refused form renders the page again (422) with that form as
it was sent, each message beside its field. The case file shows the trip's summary
(`staff/case/_trip.html`, from the template global `trip_summary`) and links here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from forms.trip import LEG_FORMS, TravellerForm
from service import outbox
from service.accounts.guard import current_staff, staff_required
from service.blueprints import private, staff_case
from service.cases import events, trip, workflow
from service.cases.trip import passport_of
from service.extensions import db
from service.models import Case, Traveller, TripLeg
from service.models.trip import LegKind
from service.sqlite_locks import writes_on_read

bp = Blueprint("staff_trip", __name__, url_prefix="/staff/cases")
bp.after_request(private)

NEW_TRAVELLER: Final = "new-traveller"
# The status actions the trip page offers (the state machine decides which apply now).
STATUS_ACTIONS: Final = ("book_travel", "start_treatment", "mark_returned")


def _actor() -> str:
    return events.Actor.user(current_staff())


def _max_companions() -> int:
    return current_app.config["MAX_COMPANIONS"]


@dataclass(frozen=True)
class LegPanel:
    """One leg with its edit form, or one kind to add (leg None)."""

    kind: str
    label: str
    leg: TripLeg | None
    form: FlaskForm
    prefix: str


@dataclass(frozen=True)
class TripSummary:
    view: trip.TripView
    can_edit: bool


@bp.app_template_global()
def trip_summary(case: Case) -> TripSummary:
    """The case file's Trip section: the staff view and whether the trip can change now."""
    return TripSummary(trip.trip_view(case, trip.Audience.STAFF, max_companions=_max_companions()),
                       case.status in trip.TRIP_STATUSES and case.erased_at is None)


def _leg_prefix(leg: TripLeg | None, kind: str) -> str:
    return f"leg-{leg.id}" if leg is not None else f"new-{kind}"


def _traveller_prefix(traveller_id: int) -> str:
    return f"traveller-{traveller_id}"


def _panels(case: Case, failed: tuple[str, FlaskForm] | None) -> tuple[list[LegPanel], list[LegPanel]]:
    """(the legs in force with their edit forms, the kinds that can be added)."""
    current, adding = [], []
    for leg in trip.legs(case):
        prefix = _leg_prefix(leg, leg.kind)
        if failed and failed[0] == prefix:
            form = failed[1]
        else:
            form = LEG_FORMS[leg.kind](formdata=None, prefix=prefix)
            form.fill(leg)
        current.append(LegPanel(leg.kind, trip.KIND_LABELS[leg.kind], leg, form, prefix))
    present = {leg.kind for leg in trip.legs(case)}
    for kind in LegKind:
        if kind in trip.SINGLE and kind in present:
            continue
        prefix = _leg_prefix(None, kind)
        form = failed[1] if failed and failed[0] == prefix else LEG_FORMS[kind](formdata=None, prefix=prefix)
        adding.append(LegPanel(kind.value, trip.KIND_LABELS[kind], None, form, prefix))
    return current, adding


def _render(case: Case, status: int = 200, *, failed: tuple[str, FlaskForm] | None = None,
            error: str | None = None) -> tuple[str, int]:
    view = trip.trip_view(case, trip.Audience.STAFF, max_companions=_max_companions())
    traveller_forms = {}
    for traveller in trip.travellers(case):
        prefix = _traveller_prefix(traveller.id)
        if failed and failed[0] == prefix:
            traveller_forms[traveller.id] = failed[1]
        else:
            traveller_forms[traveller.id] = TravellerForm.of(traveller.role, passport_of(traveller), prefix)
    new_traveller = failed[1] if failed and failed[0] == NEW_TRAVELLER else TravellerForm(formdata=None,
                                                                                          prefix=NEW_TRAVELLER)
    current, adding = _panels(case, failed)
    allowed = {a.name for a in workflow.allowed_actions(case)}
    return render_template(
        "staff/trip.html", case=case, view=view, traveller_forms=traveller_forms, new_traveller=new_traveller,
        current=current, adding=adding, failed=failed[0] if failed else None, error=error,
        can_edit=case.status in trip.TRIP_STATUSES and case.erased_at is None,
        status_actions=[workflow.ACTIONS[name] for name in STATUS_ACTIONS if name in allowed],
        zone=trip.clinic_zone(case), max_companions=_max_companions(),
    ), status


def _show_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        if name in form and message not in form[name].errors:
            form[name].errors = [*form[name].errors, message]


def _done(case: Case, message: str) -> Response:
    outbox.commit()
    flash(message, "success")
    return redirect(url_for("staff_trip.show", reference=case.reference), code=303)


def _refused(case: Case, key: str, form: FlaskForm, exc: trip.TripRefused) -> tuple[str, int]:
    db.session.rollback()
    _show_errors(form, exc.errors)
    return _render(case, 422, failed=(key, form), error=None if exc.errors else str(exc))


# ---------------------------------------------------------------- page


@bp.get("/<reference>/trip")
@writes_on_read
@staff_required()
def show(reference: str) -> tuple[str, int]:
    case = staff_case._case_or_404(reference)
    # The page shows passports: who looked goes on the timeline, as for the case file.
    events.record_event(case, _actor(), events.EventKind.CASE_VIEWED, page="trip")
    db.session.commit()
    return _render(case)


# ---------------------------------------------------------------- travellers


@bp.post("/<reference>/trip/travellers")
@staff_required()
def add_traveller(reference: str) -> Response | tuple[str, int]:
    case = staff_case._case_or_404(reference)
    form = TravellerForm(prefix=NEW_TRAVELLER)
    if not form.validate_on_submit():
        return _render(case, 422, failed=(NEW_TRAVELLER, form))
    try:
        trip.add_traveller(case, form.passport(), _actor(), role=form.role.data, max_companions=_max_companions())
    except trip.TripRefused as exc:
        return _refused(case, NEW_TRAVELLER, form, exc)
    return _done(case, "Traveller added.")


def _traveller(case: Case, traveller_id: int) -> Traveller:
    found = db.session.get(Traveller, traveller_id)
    if found is None or found.case_id != case.id:
        abort(404)
    return found


@bp.post("/<reference>/trip/travellers/<int:traveller_id>")
@staff_required()
def change_traveller(reference: str, traveller_id: int) -> Response | tuple[str, int]:
    case = staff_case._case_or_404(reference)
    _traveller(case, traveller_id)
    key = _traveller_prefix(traveller_id)
    form = TravellerForm(prefix=key)
    if not form.validate_on_submit():
        return _render(case, 422, failed=(key, form))
    try:
        trip.change_traveller(case, traveller_id, form.passport(), _actor())
    except trip.TripRefused as exc:
        return _refused(case, key, form, exc)
    return _done(case, "Traveller's passport details changed.")


@bp.post("/<reference>/trip/travellers/<int:traveller_id>/remove")
@staff_required()
def remove_traveller(reference: str, traveller_id: int) -> Response | tuple[str, int]:
    case = staff_case._case_or_404(reference)
    _traveller(case, traveller_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        return _render(case, 422, error="The form expired; reload the page and try again.")
    try:
        trip.remove_traveller(case, traveller_id, _actor())
    except trip.TripRefused as exc:
        db.session.rollback()
        return _render(case, 422, error=str(exc))
    return _done(case, "Traveller removed.")


# ---------------------------------------------------------------- legs


@bp.post("/<reference>/trip/legs/<kind>")
@staff_required()
def add_leg(reference: str, kind: str) -> Response | tuple[str, int]:
    if kind not in LegKind.__members__.values():
        abort(404)
    case = staff_case._case_or_404(reference)
    key = _leg_prefix(None, kind)
    form = LEG_FORMS[kind](prefix=key)
    if not form.validate_on_submit():
        return _render(case, 422, failed=(key, form))
    try:
        trip.add_leg(case, form.facts(kind, trip.clinic_zone(case)), _actor())
    except trip.TripRefused as exc:
        return _refused(case, key, form, exc)
    return _done(case, f"{trip.KIND_LABELS[kind]} added.")


def _leg(case: Case, leg_id: int) -> TripLeg:
    found = db.session.get(TripLeg, leg_id)
    if found is None or found.case_id != case.id:
        abort(404)
    return found


@bp.post("/<reference>/trip/legs/<int:leg_id>")
@staff_required()
def change_leg(reference: str, leg_id: int) -> Response | tuple[str, int]:
    case = staff_case._case_or_404(reference)
    leg = _leg(case, leg_id)
    key = _leg_prefix(leg, leg.kind)
    form = LEG_FORMS[leg.kind](prefix=key)
    if not form.validate_on_submit():
        return _render(case, 422, failed=(key, form))
    try:
        trip.change_leg(case, leg.id, form.facts(leg.kind, leg.start_zone or trip.clinic_zone(case)), _actor())
    except trip.TripRefused as exc:
        return _refused(case, key, form, exc)
    return _done(case, f"{trip.KIND_LABELS[leg.kind]} changed.")


@bp.post("/<reference>/trip/legs/<int:leg_id>/remove")
@staff_required()
def remove_leg(reference: str, leg_id: int) -> Response | tuple[str, int]:
    case = staff_case._case_or_404(reference)
    leg = _leg(case, leg_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        return _render(case, 422, error="The form expired; reload the page and try again.")
    try:
        trip.cancel_leg(case, leg.id, _actor())
    except trip.TripRefused as exc:
        db.session.rollback()
        return _render(case, 422, error=str(exc))
    return _done(case, f"{trip.KIND_LABELS[leg.kind]} removed; the calendar publishes it as cancelled.")
