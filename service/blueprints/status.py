"""The patient's private status page: where the case stands, its files, more files,
and the coordinator's questions with a form to answer the open one."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from forms import AddFilesForm
from forms.answer import AnswerForm
from service.cases import intake, workflow
from service.cases.events import patient_timeline
from service.cases.lookup import case_for_token
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Case, PatientQuestion
from service.store import get_storage

bp = Blueprint("status", __name__)


@bp.after_request
def _private(response: Response) -> Response:
    """The URL is the key to health data: keep it out of caches and referrers."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _case_or_404(token: str, *, for_update: bool = False) -> Case:
    case = case_for_token(token, for_update=for_update)
    if case is None:
        abort(404, "This status link is not valid. Check that you copied the whole link.")
    return case


# The answer form's fields are prefixed: the page also has the add-files form.
ANSWER_PREFIX = "reply"


def _answerable(case: Case) -> PatientQuestion | None:
    """The question the patient can answer now, if the case is waiting on them."""
    return workflow.open_question(case) if case.status == CaseStatus.AWAITING_PATIENT else None


def _render(
    case: Case, token: str, form: AddFilesForm | None = None, status: int = 200,
    *, answer_form: AnswerForm | None = None,
) -> tuple[str, int]:
    files_left = current_app.config["MAX_FILES"] - len(case.attachments)
    question = _answerable(case)
    if question is not None and answer_form is None:
        answer_form = AnswerForm(prefix=ANSWER_PREFIX, formdata=None, already_attached=len(case.attachments))
    questions = list(db.session.scalars(
        select(PatientQuestion).where(PatientQuestion.case_id == case.id).order_by(PatientQuestion.id.desc())
    ))
    return render_template(
        "status/show.html", case=case, token=token,
        form=form or AddFilesForm(formdata=None, already_attached=len(case.attachments)),
        files_left=files_left, timeline=patient_timeline(case),
        question=question, answer_form=answer_form,
        answered=[q for q in questions if q.answered_at is not None],
    ), status


@bp.get("/s/<token>")
def show(token: str) -> tuple[str, int]:
    case = _case_or_404(token)
    return _render(case, token)


@bp.post("/s/<token>/files")
def add_files(token: str) -> Response | tuple[str, int]:
    case = _case_or_404(token, for_update=True)
    form = AddFilesForm(already_attached=intake.attachment_count(case))
    if not form.validate_on_submit():
        return _render(case, token, form, 422)
    try:
        added = intake.add_files(case, form.accepted_files, get_storage())
    except intake.FilesNotStored:
        form.files.errors.append(
            "Your files could not be stored just now; nothing was added. Try again in a few minutes."
        )
        return _render(case, token, form, 503)
    flash(f"{len(added)} file(s) added to your request.", "success")
    return redirect(url_for("status.show", token=token), code=303)


@bp.post("/s/<token>/answer")
def answer(token: str) -> Response | tuple[str, int]:
    """Answer the open question, with files if any: the case goes back to the
    coordinator. The answer and its files are recorded together or not at all."""
    case = _case_or_404(token, for_update=True)
    question = _answerable(case)
    if question is None:
        flash("There is no open question on this request; it may have been answered already.", "info")
        return redirect(url_for("status.show", token=token), code=303)
    form = AnswerForm(prefix=ANSWER_PREFIX, already_attached=intake.attachment_count(case))
    if not form.validate_on_submit():
        return _render(case, token, status=422, answer_form=form)
    try:
        workflow.patient_answered(case, question, form.answer.data)
    except workflow.ActionRefused as exc:
        form.answer.errors.append(str(exc))
        return _render(case, token, status=422, answer_form=form)
    if form.accepted_files:
        try:
            intake.add_files(case, form.accepted_files, get_storage())
        except intake.FilesNotStored:
            form.files.errors.append(
                "Your files could not be stored just now, so your answer was not sent either. "
                "Try again in a few minutes."
            )
            return _render(_case_or_404(token), token, status=503, answer_form=form)
    else:
        db.session.commit()
    flash("Thank you: your answer was sent to your coordinator.", "success")
    return redirect(url_for("status.show", token=token), code=303)


@bp.get("/s/<token>/files/<int:attachment_id>")
def download(token: str, attachment_id: int) -> Response:
    case = _case_or_404(token)
    attachment = next((a for a in case.attachments if a.id == attachment_id), None)
    if attachment is None:
        abort(404)
    url = get_storage().url(
        attachment.storage_key,
        filename=attachment.filename,
        content_type=attachment.content_type,
        expires_in=current_app.config["DOWNLOAD_URL_TTL"],
    )
    return redirect(url, code=303)
