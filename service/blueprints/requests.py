"""The patient's request form."""
from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from forms import RequestForm
from service import i18n
from service.cases import idempotency, intake, staging
from service.catalog import snapshot
from service.i18n import N_, gettext
from service.models import StagedUpload
from service.store import get_storage
from service.templating import HoledPages

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
    if request.method == "GET":
        kept = _staged_for_this_visitor()
        if not kept and not session.get("_flashes"):
            return _blank_page(language), 200  # the form need not even be built
        return _page(_get_form(language), kept)
    form = build_form(upload_owner=staging.session_owner())
    token, owner = form.submission_token.data, staging.session_owner()
    guarded = form.is_submitted() and owner and idempotency.valid_key(token)

    def run(attempt: idempotency.Attempt) -> Response | tuple[str, int]:
        if form.validate_on_submit():
            return _submit(form, attempt)
        return _page(form, form.staged_uploads)

    # The token belongs to this browser session: another one never reaches its case
    # (FOREIGN: a fresh form). A double click waits for the first POST and shows its result.
    return idempotency.once(
        idempotency.FORM, token if guarded else None, owner=owner, run=run, replay=_to_status,
        refuse=_refused, wait=idempotency.FORM_WAIT_SECONDS,
    )


def _get_form(language: str) -> RequestForm:
    """The form a GET shows: a link's treatment and clinic, the page's language."""
    form = build_form(upload_owner=staging.session_owner())
    form.prefill(request.args.get("treatment"), request.args.get("clinic"))
    if not form.language.data:
        form.language.data = language
    return form


def _staged_for_this_visitor() -> list[StagedUpload]:
    """Files this browser already uploaded (resumable): they stay staged across a failed
    submission and a reload of the page, which lists them. The owner id is made now, so
    that a second POST of this page (sent before the first one's response set the
    cookie) comes from the same session; a session made just now has no files."""
    returning = staging.session_owner() is not None
    owner = staging.session_owner(create=True)
    return staging.completed(owner) if returning else []


def _refused(outcome: idempotency.Outcome) -> Response:
    if outcome is idempotency.Outcome.FOREIGN:
        return redirect(url_for("requests.new"), code=303)
    abort(409)


def _page(form: RequestForm, kept: list[StagedUpload]) -> tuple[str, int]:
    """The form again, with what was sent and why it was refused, or with this visitor's
    staged files or message."""
    if not idempotency.valid_key(form.submission_token.data):
        form.submission_token.data = idempotency.new_submission_token()
    staging.session_owner(create=True)
    staged = staging.describe(kept)
    return render_template("requests/new.html", form=form, staged_uploads=staged), 422 if form.is_submitted() else 200


_BLANK_PAGES = "blank request pages"  # the app's HoledPages, in app.extensions


def _blank_page(language: str) -> str:
    """A new visitor's form: the same page for every visitor with the same language,
    time zone, address (its query: a link's treatment and clinic, the language switch)
    and catalogue, but for the two tokens, which are this visitor's own."""
    csrf_on = current_app.config.get("WTF_CSRF_ENABLED", True)
    tokens = {"submission": idempotency.new_submission_token()}
    if csrf_on:
        tokens["csrf"] = generate_csrf()
    key = (
        i18n.current_language(), i18n.current_zone(), request.script_root, request.full_path,
        snapshot.current().token, language, csrf_on,
        current_app.config["MAX_FILES"], current_app.config["MAX_FILE_BYTES"],
    )

    def render(values: Mapping[str, str]) -> str:
        form = _get_form(language)
        form.submission_token.data = values["submission"]
        if csrf_on:
            form.csrf_token.current_token = values["csrf"]
        return render_template("requests/new.html", form=form, staged_uploads=[])

    pages = current_app.extensions.setdefault(_BLANK_PAGES, HoledPages())
    return pages.render(key, tokens, render)


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
