"""The clinic portal (`/clinic/...`): a clinic user's referrals, the case as a clinic
may see it, and the answers. A thin shell over `service.cases.quotes`, which decides
and records; this module parses, commits, relays and answers.

Isolation is absolute: every referral is looked up through `_own_referral`, which
answers 404 (never 403) for another clinic's, so nobody learns that an id exists.
Looking at the health data is audited like in the staff console: opening a referral
writes a `case_viewed` event, taking a copy of a file a `file_opened` event, both with
the actor `clinic:<email>`. The patient's identity stays hidden (and redacted from
what they typed) until staff release it to this clinic."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Final

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from forms.clinic import AskForm, DeclineForm, QuoteForm
from forms.trip import ClinicDatesForm
from service import outbox
from service.accounts.guard import clinic_required, current_staff
from service.blueprints import previews, private
from service.cases import derivatives, events, messages, quotes, sla, trip
from service.cases.paperwork_store import dossier_slot
from service.cases.status import CaseStatus, ReferralState, ReferralStatus
from service.extensions import db
from service.models import Attachment, Case, Document, Quote, Referral, User
from service.models.trip import LegKind
from service.paperwork.content import age_years, country_label, dossier_content
from service.store import get_storage
from service.sqlite_locks import writes_on_read

bp = Blueprint("clinic_portal", __name__, url_prefix="/clinic")
bp.after_request(private)

PAGE_SIZE: Final = 25
# By `Referral.state`: an accepted referral reads "chosen" or "not chosen" once the patient chose.
STATUS_LABELS: Final = {
    ReferralState.PENDING: "Waiting for your answer",
    ReferralState.ACCEPTED: "Accepted",
    ReferralState.DECLINED: "Declined",
    ReferralState.WITHDRAWN: "Withdrawn by the agency",
    ReferralState.CHOSEN: "Chosen by the patient",
    ReferralState.NOT_CHOSEN: "Not chosen",
}
# The answers, in the order the page offers them.
ACCEPT, DECLINE, REVISE, ASK = "accept", "decline", "revise", "ask"




def age_bracket(born: date | None, today: date) -> str:
    """A decade rather than the age: enough to triage a referral from the list."""
    years = age_years(born, today)
    if years is None or years < 0:
        return "not provided"
    if years < 18:
        return "under 18"
    low = max(18, years // 10 * 10)
    return f"{low}–{years // 10 * 10 + 9}"


def _own_referral(referral_id: int) -> Referral:
    """The referral, if it is this clinic's; 404 otherwise (whether or not it exists)."""
    referral = db.session.get(Referral, referral_id)
    if referral is None or referral.clinic_id != current_staff().clinic_id:
        abort(404)
    return referral


@dataclass(frozen=True)
class Deadline:
    """The clinic's answer clock for one referral (None when it does not run)."""

    due: datetime | None
    overdue: bool
    paused: bool


def _deadline(referral: Referral, now: datetime) -> Deadline:
    case = referral.case
    due = sla.referral_due(referral, case, sla.finished_pauses(case), now)
    return Deadline(due, due is not None and due < now, due is not None and case.sla_paused_since is not None)


@dataclass(frozen=True)
class Row:
    referral: Referral
    case: Case
    age: str
    country: str
    quote: Quote | None
    deadline: Deadline

    @property
    def released(self) -> bool:
        return self.referral.contact_released_at is not None


# ---------------------------------------------------------------- list


@bp.get("/")
@clinic_required
def index() -> Response:
    return redirect(url_for("clinic_portal.referrals"))


@bp.get("/referrals")
@clinic_required
def referrals() -> str:
    clinic_id = current_staff().clinic_id
    total = db.session.scalar(select(func.count(Referral.id)).where(Referral.clinic_id == clinic_id)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    now = datetime.now(timezone.utc)
    rows = [
        Row(r, r.case, age_bracket(r.case.date_of_birth, now.date()), country_label(r.case.country),
            quotes.current(r) or quotes.latest(r), _deadline(r, now))
        for r in db.session.scalars(
            select(Referral).where(Referral.clinic_id == clinic_id)
            .order_by(Referral.created_at.desc(), Referral.id.desc())
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )
    ]
    return render_template(
        "clinic/portal/referrals.html", rows=rows, page=page, pages=pages, total=total, labels=STATUS_LABELS,
    )


# ---------------------------------------------------------------- one referral


def _answerable(referral: Referral) -> bool:
    case = referral.case
    return case.status != CaseStatus.CLOSED and case.erased_at is None and referral.status in ReferralStatus.open()


def allowed_answers(referral: Referral) -> list[str]:
    """The answers the referral's state allows, so the page offers no form that would be refused."""
    if not _answerable(referral):
        return []
    if referral.status == ReferralStatus.PENDING:
        return [ACCEPT, DECLINE, ASK]
    if referral.state == ReferralState.NOT_CHOSEN:
        return [ASK]
    return [REVISE, ASK] if quotes.latest(referral) is not None else [ASK]


def _blank_forms(referral: Referral) -> dict[str, FlaskForm]:
    forms: dict[str, FlaskForm] = {}
    for name in allowed_answers(referral):
        if name == ACCEPT:
            forms[name] = QuoteForm(formdata=None)
        elif name == REVISE:
            forms[name] = QuoteForm.from_quote(quotes.latest(referral))  # type: ignore[arg-type]
        elif name == DECLINE:
            forms[name] = DeclineForm(formdata=None)
        else:
            forms[name] = AskForm(formdata=None)
    return forms


@dataclass(frozen=True)
class Version:
    quote: Quote
    changes: list[quotes.Change]
    counts: bool
    current: bool
    chosen: bool


def _history(referral: Referral) -> list[Version]:
    """Every version of the clinic's quote, newest first, with what each one changed."""
    current = quotes.current(referral)
    chosen_id = referral.case.chosen_quote_id
    versions = []
    previous: Quote | None = None
    for quote in referral.quotes:
        versions.append(Version(
            quote, quotes.changes(previous, quote) if previous is not None else [],
            quote.counts, quote is current, quote.id == chosen_id,
        ))
        previous = quote
    return versions[::-1]


def _dossier(referral: Referral) -> Document | None:
    return db.session.scalar(
        select(Document).where(Document.case_id == referral.case_id, Document.slot == dossier_slot(referral.id))
    )


def _render(
    referral: Referral, status: int = 200, *, error: str | None = None,
    failed: str | None = None, failed_form: FlaskForm | None = None,
) -> tuple[str, int]:
    case = referral.case
    now = datetime.now(timezone.utc)
    released = referral.contact_released_at is not None
    attachments = messages.clinic_attachments(referral)
    summary = dossier_content(
        case, referral, derivatives.clinic_files(attachments),
        lambda a: url_for("clinic_portal.attachment", referral_id=referral.id, attachment_id=a.id),
        released=released, today=now.date(),
    )
    forms = _blank_forms(referral)
    if failed_form is not None and failed in forms:
        forms[failed] = failed_form
    return render_template(
        "clinic/portal/referral.html",
        referral=referral,
        case=case,
        summary=summary,
        deadline=_deadline(referral, now),
        labels=STATUS_LABELS,
        dossier=_dossier(referral),
        history=_history(referral),
        pending_revision=quotes.pending_revision(referral),
        current=quotes.current(referral),
        forms=forms,
        failed=failed,
        error=error,
        includes=quotes.INCLUDES,
        download_ttl=current_app.config["DOWNLOAD_URL_TTL"],
        forwarded=messages.forwarded_for_clinic(referral),
        files=derivatives.file_views(attachments),
        released=released,
    ), status


@bp.get("/referrals/<int:referral_id>")
@writes_on_read
@clinic_required
def referral(referral_id: int) -> tuple[str, int]:
    referral = _own_referral(referral_id)
    events.record_event(referral.case, events.Actor.user(current_staff()), events.EventKind.CASE_VIEWED, referral_id=referral.id)
    db.session.commit()
    return _render(referral)


# ---------------------------------------------------------------- files


def _download(referral: Referral, key: str, filename: str, content_type: str) -> Response:
    """Record the copy, then hand out a link that expires after DOWNLOAD_URL_TTL."""
    events.record_event(
        referral.case, events.Actor.user(current_staff()), events.EventKind.FILE_OPENED, file=filename, referral_id=referral.id
    )
    db.session.commit()
    url = get_storage().url(
        key, filename=filename, content_type=content_type, expires_in=current_app.config["DOWNLOAD_URL_TTL"]
    )
    return redirect(url, code=303)


@bp.get("/referrals/<int:referral_id>/dossier")
@writes_on_read
@clinic_required
def dossier(referral_id: int) -> Response:
    referral = _own_referral(referral_id)
    document = _dossier(referral)
    if document is None:
        abort(404, "The dossier for this referral is not ready yet; try again in a few minutes.")
    return _download(referral, document.storage_key, f"{referral.case.reference}-dossier.pdf", "application/pdf")


@bp.get("/referrals/<int:referral_id>/attachments/<int:attachment_id>")
@writes_on_read
@clinic_required
def attachment(referral_id: int, attachment_id: int) -> Response:
    """The file's de-identified copy; with `?original=1`, once the patient's contact
    details are released to this clinic, the original (recorded as such)."""
    referral = _own_referral(referral_id)
    found = _clinic_attachment(referral, attachment_id)
    # The name the clinic sees: redacted like the dossier's until the identity is released.
    summary = dossier_content(
        referral.case, referral, [found], lambda _a: "", released=referral.contact_released_at is not None
    )
    try:
        download = derivatives.clinic_download(
            found, referral, summary.attachments[0].filename,
            original=request.args.get("original") == "1", actor=events.Actor.user(current_staff()),
        )
    except derivatives.Withheld as exc:
        abort(409, str(exc))
    return _download(referral, download.key, download.filename, download.content_type)


@bp.get("/referrals/<int:referral_id>/attachments/<int:attachment_id>/previews/<int:derived_id>")
@clinic_required
def preview(referral_id: int, attachment_id: int, derived_id: int) -> Response:
    """A worker-made preview (JPEG, no metadata) of a file whose clean copy is ready,
    for the referral page's thumbnails; previews of withheld files are not served."""
    referral = _own_referral(referral_id)
    found = _clinic_attachment(referral, attachment_id)
    row = derivatives.preview_of(found, derived_id)
    if row is None or not derivatives.file_view(found).copy_ready:
        abort(404)
    return previews.inline(get_storage(), row)


def _clinic_attachment(referral: Referral, attachment_id: int) -> Attachment:
    found = db.session.get(Attachment, attachment_id)
    if found is None or found.case_id != referral.case_id or found not in messages.clinic_attachments(referral):
        abort(404)
    return found


# ---------------------------------------------------------------- answers




def _show_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """The rules' messages next to their fields (a field's own parse error stays first)."""
    for name, message in errors.items():
        if name in form and message not in form[name].errors:
            form[name].errors = [*form[name].errors, message]


def _answer(
    referral_id: int, name: str, form: FlaskForm, perform: Callable[[Referral, User], object], message: str,
) -> Response | tuple[str, int]:
    referral = _own_referral(referral_id)
    if not form.validate_on_submit():
        if isinstance(form, QuoteForm):
            # Every problem at once: the rules' findings too, not only what failed to parse.
            try:
                quotes.check_terms(form.terms())
            except quotes.QuoteRefused as refused:
                _show_errors(form, {k: v for k, v in refused.errors.items() if not form[k].errors})
        return _render(referral, 422, failed=name, failed_form=form)
    try:
        perform(referral, current_staff())
        outbox.commit()
    except quotes.QuoteRefused as refused:
        db.session.rollback()
        _show_errors(form, refused.errors)
        return _render(referral, 422, error=None if refused.errors else str(refused), failed=name, failed_form=form)
    flash(message, "success")
    return redirect(url_for("clinic_portal.referral", referral_id=referral.id), code=303)


@bp.post("/referrals/<int:referral_id>/accept")
@clinic_required
def accept(referral_id: int) -> Response | tuple[str, int]:
    form = QuoteForm()
    return _answer(
        referral_id, ACCEPT, form, lambda r, user: quotes.accept(r, form.terms(), user),
        "Your quote was sent; the patient will see it.",
    )


@bp.post("/referrals/<int:referral_id>/decline")
@clinic_required
def decline(referral_id: int) -> Response | tuple[str, int]:
    form = DeclineForm()
    return _answer(
        referral_id, DECLINE, form, lambda r, user: quotes.decline(r, form.reason.data or "", user),
        "You declined this referral; the agency was told.",
    )


@bp.post("/referrals/<int:referral_id>/revise")
@clinic_required
def revise(referral_id: int) -> Response | tuple[str, int]:
    form = QuoteForm()
    return _answer(
        referral_id, REVISE, form, lambda r, user: quotes.revise(r, form.terms(), user),
        "Your revised quote was sent; it counts once the patient accepts it.",
    )


@bp.post("/referrals/<int:referral_id>/ask")
@clinic_required
def ask(referral_id: int) -> Response | tuple[str, int]:
    form = AskForm()
    return _answer(
        referral_id, ASK, form, lambda r, user: quotes.ask_agency(r, form.question.data or "", user),
        "Your question was sent to the agency.",
    )


# ---------------------------------------------------------------- the trip's dates
# The chosen clinic sees the patient's arrival (flight and local time) and its admission
# date, and enters its own dates (`service.cases.trip.set_clinic_dates`); the travellers'
# names appear once the contact details are released. The section is
# `clinic/portal/_trip.html`, drawn from the template global `clinic_trip`.

_TRIP_FAILED: Final = "clinic_trip_failed"


@dataclass(frozen=True)
class ClinicTrip:
    view: trip.TripView | None
    can_edit: bool
    form: ClinicDatesForm


def _trip_editable(referral: Referral) -> bool:
    case = referral.case
    return (referral.state == ReferralState.CHOSEN and case.status in trip.TRIP_STATUSES
            and case.erased_at is None)


@bp.app_template_global()
def clinic_trip(referral: Referral) -> ClinicTrip:
    """What the referral page shows of the trip: only for the clinic the patient chose."""
    if referral.state != ReferralState.CHOSEN:
        return ClinicTrip(None, False, ClinicDatesForm(formdata=None))
    failed = g.get(_TRIP_FAILED)
    if failed is not None:
        form = failed
    else:
        found = {kind: trip.active_leg(referral.case, kind) for kind in trip.CLINIC_DAYS}
        form = ClinicDatesForm(formdata=None, **{kind.value: leg.on_date for kind, leg in found.items() if leg})
    return ClinicTrip(trip.trip_view(referral.case, trip.Audience.CLINIC), _trip_editable(referral), form)


@bp.post("/referrals/<int:referral_id>/trip-dates")
@clinic_required
def trip_dates(referral_id: int) -> Response | tuple[str, int]:
    referral = _own_referral(referral_id)
    form = ClinicDatesForm()
    if not form.validate_on_submit():
        g.setdefault(_TRIP_FAILED, form)
        return _render(referral, 422)
    if not _trip_editable(referral):
        return _render(referral, 422, error="Only the clinic the patient chose enters the trip's dates, "
                                            "while the trip is being planned.")
    try:
        trip.set_clinic_dates(referral.case, {
            LegKind.ADMISSION: form.admission.data, LegKind.PROCEDURE: form.procedure.data,
            LegKind.DISCHARGE: form.discharge.data,
        }, events.Actor.user(current_staff()))
    except trip.TripRefused as exc:
        db.session.rollback()
        _show_errors(form, exc.errors)
        g.setdefault(_TRIP_FAILED, form)
        return _render(referral, 422, error=None if exc.errors else str(exc))
    outbox.commit()
    flash("The dates were saved; the agency and the patient see them now.", "success")
    return redirect(url_for("clinic_portal.referral", referral_id=referral.id, _anchor="trip"), code=303)
