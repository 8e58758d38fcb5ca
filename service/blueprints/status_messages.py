"""The status page's Messages section: the conversation with the coordinator and the
form to write (`POST /s/<token>/messages`, fields `body` and `files`). The section is
rendered inside the status page (`status/_conversation.html`, included by
`status/show.html`) from `patient_conversation`, a template global; a refused message
re-renders the whole page with the form's errors and the text the patient typed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flask import Blueprint, current_app, flash, g, redirect, url_for
from werkzeug.wrappers import Response

from forms.conversation import MessageForm
from service.blueprints import status
from service.cases import intake, messages
from service.i18n import gettext
from service.models import Case

bp = Blueprint("status_messages", __name__)
bp.after_request(status._private)

# The form's fields are prefixed: the page also has the add-files and answer forms.
PREFIX: Final = "message"
_FAILED: Final = "status_message_form"


@dataclass(frozen=True)
class Conversation:
    thread: list[messages.ThreadEntry]
    form: MessageForm
    files_left: int


@bp.app_template_global()
def patient_conversation(case: Case) -> Conversation:
    """What the Messages section shows: the thread and the form (the refused one, with
    its errors and text, when this request is a refused message)."""
    already = intake.attachment_count(case)
    form = g.get(_FAILED) or MessageForm(prefix=PREFIX, formdata=None, already_attached=already)
    return Conversation(thread=messages.thread(case), form=form,
                        files_left=current_app.config["MAX_FILES"] - already)


def _refused(case: Case, token: str, form: MessageForm, code: int) -> tuple[str, int]:
    g.setdefault(_FAILED, form)
    return status._render(case, token, status=code)


@bp.post("/s/<token>/messages")
def post(token: str) -> Response | tuple[str, int]:
    """Record the patient's message and its files together, or nothing."""
    case = status._case_or_404(token, for_update=True)
    form = MessageForm(prefix=PREFIX, already_attached=intake.attachment_count(case))
    if not form.validate_on_submit():
        return _refused(case, token, form, 422)
    try:
        message = messages.post_patient_message(case, form.body.data or "", form.accepted_files)
        messages.commit_or_clean(message)
    except messages.MessageRefused as exc:
        form.body.errors.append(str(exc))
        return _refused(case, token, form, 422)
    except intake.FilesNotStored:
        form.files.errors.append(gettext(
            "Your files could not be stored just now, so your message was not sent either. "
            "Try again in a few minutes."
        ))
        return _refused(status._case_or_404(token), token, form, 503)
    flash(gettext("Your message was sent to your coordinator."), "success")
    return redirect(url_for("status.show", token=token, _anchor="messages"), code=303)
