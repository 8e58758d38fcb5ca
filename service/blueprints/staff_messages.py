"""The case file's Messages section: the coordinator's reply (`POST
/staff/cases/<reference>/messages`, with a template picker and a preview in the
patient's language before sending) and forwarding one patient message to a clinic
(`POST /staff/cases/<reference>/messages/<id>/forward`).

The section is part of the case file (`staff/case/_messages.html`, included by
`staff/case/show.html`); its thread and choices come from the read model
(`service.cases.case_file`); a reply that is not sent yet (a template filled in, a
preview, a refusal) renders the case file with its `Reply`, so the typed text stays.
The rules are in `service.cases.messages` and `service.cases.reply_templates`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flask import Blueprint, abort, flash, redirect, url_for
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from forms.conversation import ForwardForm, StaffMessageForm
from service import outbox
from service.accounts.guard import current_staff, staff_required
from service.blueprints import private, staff_case
from service.cases import messages, reply_templates, workflow
from service.extensions import db
from service.models import Case, CaseMessage, Referral

bp = Blueprint("staff_messages", __name__, url_prefix="/staff/cases")
bp.after_request(private)

# The name `errors_for` shows a refusal of the reply under.
REPLY: Final = "message"
INTENTS: Final = ("template", "preview", "send")


def forward_failure(message_id: int) -> str:
    return f"forward-{message_id}"


@dataclass(frozen=True)
class Reply:
    """The reply form as a request left it, for the page that request renders."""

    form: StaffMessageForm
    preview: reply_templates.Filled | None = None


def _page(case: Case, form: StaffMessageForm, status: int, *, error: str | None = None,
          preview: reply_templates.Filled | None = None) -> tuple[str, int]:
    return staff_case._render(case, status, error=error, failed=REPLY if error else None,
                              reply=Reply(form, preview))


def _form_error(form: StaffMessageForm) -> str:
    return " ".join(f"{field.label.text}: {message}" for field in form if field.errors for message in field.errors)


def _what(parts: list[str]) -> str:
    """What a forward passed on, for the confirmation."""
    if set(parts) == {messages.TEXT, messages.FILES}:
        return "the message's text and files"
    return "the message's text" if messages.TEXT in parts else "the message's files"


def _picked_referral(case: Case, referral_id: int | None) -> Referral | None:
    referral = db.session.get(Referral, referral_id) if referral_id is not None else None
    return referral if referral is not None and referral.case_id == case.id else None


@bp.post("/<reference>/messages")
@staff_required()
def reply(reference: str) -> Response | tuple[str, int]:
    """Fill a template in, preview, or send the reply; the text typed is kept on every page."""
    case = staff_case._case_or_404(reference)
    form = StaffMessageForm()
    intent = form.intent.data if form.intent.data in INTENTS else "send"
    if not form.validate_on_submit():
        return _page(case, form, 422, error=_form_error(form) or "The form could not be read; reload the case.")
    referral = _picked_referral(case, form.clinic.data)
    if intent == "template":
        template = reply_templates.by_key(form.template.data or "")
        if template is None:
            form.template.errors = ["Choose a template first."]
            return _page(case, form, 422, error=_form_error(form))
        filled = reply_templates.fill(template, case, referral)
        form.body.data = f"{form.body.data}\n\n{filled.text}" if form.body.data else filled.text
        return _page(case, form, 200, preview=reply_templates.fill_text(form.body.data, case, referral))
    if form.missing_body():
        return _page(case, form, 422, error=_form_error(form))
    if intent == "preview":
        preview = reply_templates.fill_text(form.body.data, case, referral)
        form.body.data = preview.text
        return _page(case, form, 200, preview=preview)
    try:
        messages.post_staff_message(case, current_staff(), form.body.data)
        outbox.commit()
    except messages.MessageRefused as exc:
        db.session.rollback()
        return _page(case, form, 422, error=str(exc))
    except StaleDataError:
        db.session.rollback()
        return _page(case, form, 409, error=workflow.CHANGED_MESSAGE)
    flash("Message sent to the patient; they are e-mailed that it waits on their status page.", "success")
    return redirect(url_for("staff_case.show", reference=case.reference, _anchor="messages"), code=303)


@bp.post("/<reference>/messages/<int:message_id>/forward")
@staff_required()
def forward(reference: str, message_id: int) -> Response | tuple[str, int]:
    """Let one clinic see one patient message: its text, its files or both (a timeline event)."""
    case = staff_case._case_or_404(reference)
    message = db.session.get(CaseMessage, message_id)
    if message is None or message.case_id != case.id:
        abort(404)
    form = ForwardForm()
    valid = form.validate_on_submit()
    referral = _picked_referral(case, form.referral_id.data) if valid else None
    failed = forward_failure(message.id)
    if referral is None:
        error = " ".join(form.parts.errors) or (
            "Choose the clinic to forward to." if valid or form.referral_id.errors
            else "The form could not be read; reload the case and try again.")
        return staff_case._render(case, 422, error=error, failed=failed)
    try:
        event = messages.forward_to_referral(case, current_staff(), message, referral, text=form.text, files=form.files)
        outbox.commit()
    except messages.MessageRefused as exc:
        db.session.rollback()
        return staff_case._render(case, 422, error=str(exc), failed=failed)
    flash(f"{referral.clinic.name} now sees {_what(event.details['parts'])} on its referral.", "success")
    return redirect(url_for("staff_case.show", reference=case.reference, _anchor=f"message-{message.id}"), code=303)
