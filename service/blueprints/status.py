"""The patient's private status page: where the case stands, its files, more files."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from forms import AddFilesForm
from service.cases import intake
from service.cases.events import patient_timeline
from service.cases.lookup import case_for_token
from service.models import Case
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


def _render(case: Case, token: str, form: AddFilesForm, status: int = 200) -> tuple[str, int]:
    files_left = current_app.config["MAX_FILES"] - len(case.attachments)
    return render_template(
        "status/show.html", case=case, token=token, form=form, files_left=files_left,
        timeline=patient_timeline(case),
    ), status


@bp.get("/s/<token>")
def show(token: str) -> tuple[str, int]:
    case = _case_or_404(token)
    return _render(case, token, AddFilesForm(already_attached=len(case.attachments)))


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
