"""The case file (`/staff/cases/<reference>`): everything about one case, and the
forms for the actions its status allows. A thin shell over `service.cases.workflow`,
which decides and records, and `service.cases.case_file`, which assembles what the page
shows; this module parses, builds the forms, commits, relays and answers.

Every look at the case's health data is recorded: opening the file writes one
`case_viewed` event, taking a copy of a file one `file_opened` event. Inline previews
belong to the view that showed them and record nothing more."""
from __future__ import annotations

import csv
import io
import json
from datetime import timezone
from typing import TYPE_CHECKING, Any, Final

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from forms.staff_case import (
    FORMS,
    MANUAL,
    SUGGESTIONS,
    ActionForm,
    AssignForm,
    ReleaseContactForm,
    RouteForm,
    TreatmentForm,
)
from service import limits, outbox
from service.accounts.guard import current_staff, staff_required
from service.accounts.roles import ADMIN, COORDINATOR, GRANTS
from service.blueprints import previews, private
from service.blueprints.staff_queue import spreadsheet_safe
from service.cases import derivatives, events, workflow
from service.cases.case_file import case_file
from service.extensions import db
from service.models import (
    Attachment,
    Case,
    CaseEvent,
    Document,
    Referral,
    Treatment,
    User,
)
from service.store import get_storage
from service.sqlite_locks import writes_on_read

if TYPE_CHECKING:
    from service.blueprints.staff_messages import Reply

bp = Blueprint("staff_case", __name__, url_prefix="/staff/cases")
bp.after_request(private)

# Actions whose forms sit beside what they act on rather than in the actions panel.
CONTEXTUAL: Final = {
    "request_info": "questions", "add_note": "notes", "route": "routing",
    "release_contact": "referrals", "record_choice": "referrals",
}
# PDFs are shown in the browser's own viewer; every type also through its worker-made preview.
PDF_PREVIEW: Final = frozenset({"application/pdf"})




def _case_or_404(reference: str) -> Case:
    case = db.session.scalar(select(Case).where(Case.reference == reference))
    if case is None:
        abort(404, f"There is no case {reference}.")
    return case




# ---------------------------------------------------------------- page


def _coordinators() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.active.is_(True), User.role.in_(GRANTS[COORDINATOR])).order_by(User.email)
    ))


def _build_form(action: str, case: Case, *, bound: bool) -> ActionForm:
    """The action's form, filled from the request when `bound`, else blank at the case's version."""
    cls = FORMS[action]
    kwargs: dict[str, Any] = {} if bound else {"formdata": None, "version": case.version}
    if cls is AssignForm:
        kwargs["coordinators"] = _coordinators()
    elif cls is TreatmentForm:
        kwargs["treatments"] = list(db.session.scalars(select(Treatment).order_by(Treatment.name)))
        if not bound:
            kwargs["treatment"] = case.treatment.slug
    elif cls is RouteForm:
        kwargs["clinics"] = workflow.clinics_for_manual_routing(case)
        kwargs["top_n"] = current_app.config["ROUTING_TOP_N"]
    elif action == "set_priority" and not bound:
        kwargs["priority"] = case.priority
    return cls(**kwargs)


def _render(
    case: Case, status: int = 200, *, error: str | None = None,
    failed: str | None = None, failed_form: ActionForm | None = None, reply: Reply | None = None,
) -> tuple[str, int]:
    """The case file; `reply` is the Messages section's form as a reply left it (typed
    text, errors, preview), else that section shows a blank one."""
    shown = case_file(db.session, case, current_staff(), page=request.args.get("page", 1, type=int) or 1)
    forms = {name: _build_form(name, case, bound=False) for name in shown.allowed}
    if failed_form is not None and failed in forms:
        # Keep what the coordinator typed, at the version they can act on now.
        failed_form.version.data = case.version
        forms[failed] = failed_form
    return render_template(
        "staff/case/show.html",
        **shown.template_context(),
        error=error,
        failed=failed,
        forms=forms,
        actions=workflow.ACTIONS,
        close_reasons=workflow.CLOSED_REASON_LABELS,
        pdf_preview=PDF_PREVIEW,
        manual_mode=MANUAL,
        suggestions_mode=SUGGESTIONS,
        patient_visible=events.PATIENT_VISIBLE,
        contextual=CONTEXTUAL,
        download_ttl=current_app.config["DOWNLOAD_URL_TTL"],
        max_top_n=limits.MAX_TOP_N,
        message_max_chars=limits.MESSAGE_MAX_CHARS,
        reply=reply,
        reopen_label=workflow.REOPEN_STATUS.staff_label,
    ), status


@bp.get("/<reference>")
@writes_on_read
@staff_required()
def show(reference: str) -> tuple[str, int]:
    case = _case_or_404(reference)
    workflow.record_view(case, current_staff())
    db.session.commit()
    return _render(case)


AUDIT_COLUMNS: Final = ("when", "who", "what", "description", "details")


@bp.get("/<reference>/audit.csv")
@writes_on_read
@staff_required(ADMIN)
def audit(reference: str) -> Response:
    """Every event of the case, oldest first, for a data-subject request: when (UTC),
    who, what, its staff wording and its details. The export is itself recorded (an
    `audit_exported` event, after the rows it lists)."""
    case = _case_or_404(reference)
    rows = list(db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.created_at, CaseEvent.id)
    ))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(AUDIT_COLUMNS)
    for event in rows:
        writer.writerow([spreadsheet_safe(cell) for cell in (
            event.created_at.astimezone(timezone.utc).isoformat(),
            event.actor,
            event.kind,
            events.describe(event, staff=True),
            json.dumps(event.details or {}, ensure_ascii=False, sort_keys=True),
        )])
    events.record_event(case, events.Actor.user(current_staff()), events.EventKind.AUDIT_EXPORTED, events=len(rows))
    db.session.commit()
    # A byte-order mark lets Excel read UTF-8, as in the queue's export.
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{case.reference}-audit.csv"'
    return response


# ---------------------------------------------------------------- actions


def _form_problem(form: ActionForm) -> str:
    problems = [
        f"{field.label.text}: {message}" if field.label.text else message
        for field in form if field.errors for message in field.errors
    ]
    return " ".join(problems) or "The form could not be read; reload the case and try again."


@bp.post("/<reference>/actions/<action>")
@staff_required()
def act(reference: str, action: str) -> Response | tuple[str, int]:
    if action not in workflow.ACTIONS:
        abort(404)
    case = _case_or_404(reference)
    form = _build_form(action, case, bound=True)
    if not form.validate_on_submit():
        return _render(case, 422, error=_form_problem(form), failed=action, failed_form=form)
    user = current_staff()
    try:
        workflow.perform(case, action, user, expected_version=form.version.data, **form.params())
        done = db.session.scalar(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc()).limit(1)
        )
        message = events.describe(done, staff=True) if done is not None else workflow.ACTIONS[action].label
        outbox.commit()
    except workflow.ActionRefused as exc:
        db.session.rollback()
        return _render(case, 422, error=str(exc), failed=action, failed_form=form)
    except (workflow.CaseChanged, StaleDataError):
        db.session.rollback()
        return _render(case, 409, error=workflow.CHANGED_MESSAGE, failed=action, failed_form=form)
    flash(f"{message}.", "success")
    return redirect(url_for("staff_case.show", reference=case.reference), code=303)


# ---------------------------------------------------------------- releasing contact details


def _release_referral(case: Case, referral_id: int) -> Referral:
    referral = db.session.get(Referral, referral_id)
    if referral is None or referral.case_id != case.id:
        abort(404)
    return referral


def _render_release(
    case: Case, referral: Referral, form: ReleaseContactForm | None = None, status: int = 200,
    *, error: str | None = None,
) -> tuple[str, int]:
    """The confirmation page: which clinic gets what; the override for a clinic the
    patient did not choose."""
    if form is None:
        form = ReleaseContactForm(formdata=None, version=case.version, referral_id=referral.id)
    return render_template(
        "staff/case/release.html", case=case, referral=referral, form=form, error=error,
        chosen=workflow.is_chosen_clinic(case, referral),
        allowed="release_contact" in {a.name for a in workflow.allowed_actions(case)},
        reason_min=limits.RELEASE_OVERRIDE_REASON_MIN_CHARS, reason_max=limits.RELEASE_OVERRIDE_REASON_MAX_CHARS,
    ), status


@bp.get("/<reference>/referrals/<int:referral_id>/release")
@staff_required()
def confirm_release(reference: str, referral_id: int) -> tuple[str, int]:
    case = _case_or_404(reference)
    return _render_release(case, _release_referral(case, referral_id))


@bp.post("/<reference>/referrals/<int:referral_id>/release")
@staff_required()
def release(reference: str, referral_id: int) -> Response | tuple[str, int]:
    case = _case_or_404(reference)
    referral = _release_referral(case, referral_id)
    form = ReleaseContactForm()
    form.referral_id.data = referral.id
    if not form.validate_on_submit():
        return _render_release(case, referral, form, 422, error=_form_problem(form))
    try:
        workflow.perform(case, "release_contact", current_staff(), expected_version=form.version.data, **form.params())
        outbox.commit()
    except workflow.ActionRefused as exc:
        db.session.rollback()
        for name, message in exc.errors.items():
            getattr(form, name).errors = [*getattr(form, name).errors, message]
        form.version.data = case.version
        return _render_release(case, referral, form, 422, error=str(exc))
    except (workflow.CaseChanged, StaleDataError):
        db.session.rollback()
        form.version.data = case.version
        return _render_release(case, referral, form, 409, error=workflow.CHANGED_MESSAGE)
    flash(f"Patient's contact details released to {referral.clinic.name}.", "success")
    return redirect(url_for("staff_case.show", reference=case.reference, _anchor="referrals"), code=303)


# ---------------------------------------------------------------- files


def _attachment(case: Case, attachment_id: int) -> Attachment:
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.case_id != case.id:
        abort(404)
    return attachment


def _document(case: Case, document_id: int) -> Document:
    document = db.session.get(Document, document_id)
    if document is None or document.case_id != case.id:
        abort(404)
    return document


def _download(case: Case, key: str, filename: str, content_type: str) -> Response:
    """Record the copy, then hand out a link that expires after DOWNLOAD_URL_TTL."""
    workflow.record_file_opened(case, current_staff(), filename)
    db.session.commit()
    url = get_storage().url(
        key, filename=filename, content_type=content_type, expires_in=current_app.config["DOWNLOAD_URL_TTL"]
    )
    return redirect(url, code=303)


@bp.get("/<reference>/attachments/<int:attachment_id>")
@writes_on_read
@staff_required()
def attachment(reference: str, attachment_id: int) -> Response:
    case = _case_or_404(reference)
    a = _attachment(case, attachment_id)
    return _download(case, a.storage_key, a.filename, a.content_type)


@bp.get("/<reference>/documents/<int:document_id>")
@writes_on_read
@staff_required()
def document(reference: str, document_id: int) -> Response:
    case = _case_or_404(reference)
    d = _document(case, document_id)
    return _download(case, d.storage_key, f"{case.reference}-{d.slot.replace(':', '-')}.pdf", "application/pdf")


@bp.get("/<reference>/attachments/<int:attachment_id>/preview")
@staff_required()
def preview(reference: str, attachment_id: int) -> Response:
    """A PDF shown inline in the case file's <iframe>, by the browser's own viewer (which
    opens the broken PDFs scanner apps write, as pdf.js and PDFium do). Behind the staff
    session; other types are shown through their worker-made preview (`derived`)."""
    case = _case_or_404(reference)
    a = _attachment(case, attachment_id)
    if a.content_type not in PDF_PREVIEW:
        abort(404, "This type of file is shown through its preview image; download it instead.")
    if a.active_content:
        # Never handed to the browser's PDF viewer, which would run its scripts.
        abort(404, "This PDF contains active content (scripts) and is never shown in the browser; download it instead.")
    return previews.inline_object(get_storage(), a.storage_key, filename=a.filename, content_type=a.content_type,
                                  size=a.size)


@bp.get("/<reference>/attachments/<int:attachment_id>/previews/<int:derived_id>")
@staff_required()
def derived(reference: str, attachment_id: int, derived_id: int) -> Response:
    """A worker-made preview (JPEG) of the file or of one series of a disc: decoded once
    by a worker, never on this request."""
    case = _case_or_404(reference)
    row = derivatives.preview_of(_attachment(case, attachment_id), derived_id)
    if row is None:
        abort(404, "This preview is not ready.")
    return previews.inline(get_storage(), row)
