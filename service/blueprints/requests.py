"""The patient's request form."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from werkzeug.wrappers import Response

from forms import RequestForm
from service import i18n
from service.cases import idempotency, intake, staging
from service.catalog import snapshot
from service.i18n import N_, gettext
from service.store import get_storage

bp = Blueprint("requests", __name__)

FILES_NOT_STORED = N_(
    "Your request is on record, but your files could not be stored just now. "
    "Nothing else was lost: add the files below when you are ready."
)


def build_form(**kwargs) -> RequestForm:
    return RequestForm(catalog=snapshot.current(), **kwargs)


@bp.route("/requests/new", methods=["GET", "POST"])
def new() -> Response | tuple[str, int]:
    # The page speaks the language the patient picked in the form (when it comes back
    # with errors), else the switch's, else the browser's: chosen before validation, so
    # that every message is in it.
    language = i18n.use_page_language(request.form.get("language") if request.method == "POST" else None)
    form = build_form(upload_owner=staging.session_owner())
    if request.method == "GET":
        form.prefill(request.args.get("treatment"), request.args.get("clinic"))
        if not form.language.data:
            form.language.data = language
    token, owner = form.submission_token.data, staging.session_owner()
    guarded = form.is_submitted() and owner and idempotency.valid_key(token)

    def run(attempt: idempotency.Attempt) -> Response | tuple[str, int]:
        if form.validate_on_submit():
            return _submit(form, attempt)
        return _page(form)

    # The token belongs to this browser session: another one never reaches its case
    # (FOREIGN: a fresh form). A double click waits for the first POST and shows its result.
    return idempotency.once(
        idempotency.FORM, token if guarded else None, owner=owner, run=run, replay=_to_status,
        refuse=_refused, wait=idempotency.FORM_WAIT_SECONDS,
    )


def _refused(outcome: idempotency.Outcome) -> Response:
    if outcome is idempotency.Outcome.FOREIGN:
        return redirect(url_for("requests.new"), code=303)
    abort(409)


def _page(form: RequestForm) -> tuple[str, int]:
    """The form again: blank, or with what was sent and why it was refused."""
    if not idempotency.valid_key(form.submission_token.data):
        form.submission_token.data = idempotency.new_submission_token()
    # Made now, so that a second POST of this page (sent before the first one's
    # response set the cookie) comes from the same session.
    returning = staging.session_owner() is not None
    owner = staging.session_owner(create=True)
    # Files already uploaded (resumable) stay staged across a failed submission and a
    # reload of the page; the page lists them. A session made just now has none.
    if form.is_submitted():
        kept = form.staged_uploads
    else:
        kept = staging.completed(owner) if returning else []
    staged = staging.describe(kept)
    return render_template("requests/new.html", form=form, staged_uploads=staged), 422 if form.is_submitted() else 200


def _submit(form: RequestForm, attempt: idempotency.Attempt) -> Response:
    # Read before the commit: afterwards the case is expired, and reading it again
    # would cost a SELECT for two values this request already had.
    shown: dict[str, str] = {}

    def remember(result: intake.IntakeResult) -> None:
        attempt.complete(result.case, 303, {"token": result.token})
        shown.update(language=result.case.language, reference=result.case.reference)

    result = intake.submit_request(
        form.request_data(), form.accepted_files, get_storage(), source="web", staged=form.staged_uploads,
        on_recorded=remember,
    )
    # Shown on the status page, which speaks the language the patient chose.
    with force_locale(i18n.resolve(shown["language"])):
        if result.files_failed:
            flash(gettext(FILES_NOT_STORED), "error")
        else:
            flash(gettext("Thank you. Your request %(reference)s is on record.",
                          reference=shown["reference"]), "success")
    return redirect(url_for("status.show", token=result.token), code=303)


def _to_status(record) -> Response:
    """The same form sent again: the first submission's status page, no second case."""
    return redirect(url_for("status.show", token=idempotency.recorded(record)["token"]), code=303)
