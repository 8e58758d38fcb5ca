"""The patient's private status page: where the case stands, its files, more files,
the coordinator's questions with a form to answer the open one, the clinics' quotes
side by side with the patient's choice, the paperwork to download, withdrawal and
erasure. The rules live in `service.cases` (quotes, erasure); this module parses,
commits, relays the background work and answers, in the case's language (`Case.language`
through `service.i18n`; English when we have no catalogue for it)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Final

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from forms import AddFilesForm
from forms.answer import AnswerForm
from forms.patient import EraseForm
from service import i18n, outbox
from service.blueprints import status_access
from service.cases import erasure, intake, journey, link_recovery, paperwork_store, quotes, workflow
from service.cases.events import patient_timeline
from service.cases.lookup import case_for_token
from service.cases.status import CaseStatus
from service.extensions import db
from service.i18n import N_, gettext, ngettext
from service.cases.trip import passport_of, trip_view
from service.models import Case, Document, PatientQuestion, Quote, Referral, Traveller
from service.store import get_storage

bp = Blueprint("status", __name__)

# The paperwork a patient can download, by document slot, in the order listed; the
# trip's paperwork only once a clinic is chosen. (English msgids: see `_render`.)
DOWNLOADS: Final[dict[str, str]] = {
    paperwork_store.CONFIRMATION: N_("Confirmation of your request"),
    "quote_comparison": N_("The quotes side by side"),
    "booking_summary": N_("Booking summary"),
    "itinerary": N_("Your itinerary"),
    "visa_letter": N_("Visa support letter"),
}
AFTER_CHOICE: Final = frozenset({"booking_summary", "itinerary", "visa_letter"})
# Kinds stored once per something ("visa_letter:<traveller id>"): every slot of the kind is listed.
PER_SLOT: Final = frozenset({"visa_letter"})


@bp.after_request
def _private(response: Response) -> Response:
    """The URL is the key to health data: keep it out of caches and referrers."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _case_or_404(token: str, *, for_update: bool = False) -> Case:
    """The case the link opens; from here on the request speaks the case's language."""
    case = case_for_token(token, for_update=for_update) or status_access.case_for_access_key(
        token, for_update=for_update)
    if case is None:
        abort(404, "This status link is not valid. Check that you copied the whole link.")
    i18n.use_language(case.language)
    return case


# The answer form's fields are prefixed: the page also has the add-files form.
ANSWER_PREFIX = "reply"


def _answerable(case: Case) -> PatientQuestion | None:
    """The question the patient can answer now, if the case is waiting on them."""
    return workflow.open_question(case) if case.status == CaseStatus.AWAITING_PATIENT else None


@dataclass(frozen=True)
class QuoteCard:
    """One clinic's quote as the patient sees it, with what they can do about it."""

    referral: Referral
    quote: Quote
    place: str                   # the clinic's city and country, in the page's language
    expired: bool
    choosable: bool
    chosen: bool
    revision: Quote | None
    changes: list[quotes.Change]
    # The price in the patient's currency with the rate's date, or that the rate is missing.
    converted_text: str = ""
    rate_missing: bool = False


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _quote_cards(case: Case) -> list[QuoteCard]:
    today = _today()
    cards = []
    compared = quotes.compared(case, today)
    for row in compared.rows:
        referral, quote = row.referral, row.quote
        revision = quotes.pending_revision(referral)
        expired = quote.valid_until < today
        cards.append(QuoteCard(
            referral=referral, quote=quote,
            place=referral.clinic.place(),
            expired=expired,
            choosable=case.status in quotes.CHOOSABLE and not expired and case.chosen_quote_id is None,
            chosen=case.chosen_quote_id == quote.id,
            revision=revision,
            changes=quotes.changes(quote, revision) if revision is not None else [],
            converted_text=quotes.converted_text(row, compared.currency),
            rate_missing=row.converted is None,
        ))
    return cards


def _documents(case: Case) -> dict[str, Document]:
    """The case's downloadable paperwork by slot, in the order of DOWNLOADS (a kind
    stored per traveller lists each of its slots)."""
    kinds = [s for s in DOWNLOADS if s not in AFTER_CHOICE or case.chosen_quote_id is not None]
    rows = list(db.session.scalars(
        select(Document).where(Document.case_id == case.id).order_by(Document.slot)
    ))
    found: dict[str, Document] = {}
    for kind in kinds:
        for row in rows:
            if row.slot == kind or (kind in PER_SLOT and row.slot.startswith(f"{kind}:")):
                found[row.slot] = row
    return found


def _paperwork(case: Case) -> dict[str, dict]:
    """The documents list's rows and their labels; a visa letter names its traveller."""
    documents = _documents(case)
    names = {f"{paperwork_store.VISA_LETTER}:{row.id}": passport_of(row).full_name
             for row in db.session.scalars(select(Traveller).where(Traveller.case_id == case.id))}
    labels = {}
    for slot in documents:
        kind = slot.split(":", 1)[0]
        labels[slot] = (gettext("Visa support letter — %(name)s", name=names[slot]) if slot in names
                        else gettext(DOWNLOADS[kind]))
    return {"documents": documents, "downloads": labels}


def _render(
    case: Case, token: str, form: AddFilesForm | None = None, status: int = 200,
    *, answer_form: AnswerForm | None = None, erase_form: EraseForm | None = None, error: str | None = None,
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
        files_left=files_left, timeline=patient_timeline(case), journey=journey.journey(case),
        question=question, answer_form=answer_form,
        answered=[q for q in questions if q.answered_at is not None],
        cards=_quote_cards(case), includes=quotes.include_labels(), quote_currency=quotes.comparison_currency(case),
        **_paperwork(case),
        can_withdraw=case.status != CaseStatus.CLOSED,
        trip=trip_view(case, "patient") if case.chosen_quote_id is not None else None,
        erase_form=erase_form or EraseForm(formdata=None, expected=case.reference), error=error,
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
            gettext("Your files could not be stored just now; nothing was added. Try again in a few minutes.")
        )
        return _render(case, token, form, 503)
    flash(ngettext("%(num)d file added to your request.", "%(num)d files added to your request.", len(added)),
          "success")
    return redirect(url_for("status.show", token=token), code=303)


@bp.post("/s/<token>/answer")
def answer(token: str) -> Response | tuple[str, int]:
    """Answer the open question, with files if any: the case goes back to the
    coordinator. The answer and its files are recorded together or not at all."""
    case = _case_or_404(token, for_update=True)
    question = _answerable(case)
    if question is None:
        flash(gettext("There is no open question on this request; it may have been answered already."), "info")
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
            form.files.errors.append(gettext(
                "Your files could not be stored just now, so your answer was not sent either. "
                "Try again in a few minutes."
            ))
            return _render(_case_or_404(token), token, status=503, answer_form=form)
    else:
        db.session.commit()
    flash(gettext("Thank you: your answer was sent to your coordinator."), "success")
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


# ---------------------------------------------------------------- the patient's decisions



def _decide(token: str, case: Case, decision: Callable[[], str]) -> Response | tuple[str, int]:
    """Run one of the patient's decisions: commit, relay its work, 303 back to the page;
    a refusal changes nothing and is shown on the page with 422. (The CSRF token is
    checked for every POST by CSRFProtect before this runs.)"""
    try:
        message = decision()
        outbox.commit()
    except quotes.QuoteRefused as exc:
        db.session.rollback()
        return _render(_case_or_404(token), token, status=422,
                       error=gettext("%(reason)s Nothing was changed.", reason=exc))
    flash(message, "success")
    return redirect(url_for("status.show", token=token), code=303)


def _card_or_404(case: Case, quote_id: int) -> QuoteCard:
    card = next((c for c in _quote_cards(case) if c.quote.id == quote_id), None)
    if card is None:
        abort(404, gettext("There is no such quote on your request."))
    return card


@bp.get("/s/<token>/quotes/<int:quote_id>/choose")
def confirm_choice(token: str, quote_id: int) -> Response | tuple[str, int]:
    """The quote once more, in full, before the patient commits to it."""
    case = _case_or_404(token)
    card = _card_or_404(case, quote_id)
    if not card.choosable:
        flash(gettext("This quote cannot be chosen now; the page shows why."), "info")
        return redirect(url_for("status.show", token=token), code=303)
    return render_template(
        "status/confirm.html", case=case, token=token, card=card, includes=quotes.include_labels(),
    ), 200


@bp.post("/s/<token>/quotes/<int:quote_id>/choose")
def choose(token: str, quote_id: int) -> Response | tuple[str, int]:
    case = _case_or_404(token, for_update=True)

    def decision() -> str:
        quote = quotes.choose(case, quote_id)
        return gettext("You chose %(clinic)s. Your coordinator has been told and will "
                       "contact you about the next steps.", clinic=quote.referral.clinic.name)

    return _decide(token, case, decision)


@bp.post("/s/<token>/quotes/<int:quote_id>/accept-revision")
def accept_revision(token: str, quote_id: int) -> Response | tuple[str, int]:
    case = _case_or_404(token, for_update=True)

    def decision() -> str:
        quote = quotes.accept_revision(case, quote_id)
        return gettext("You accepted the revised quote from %(clinic)s.", clinic=quote.referral.clinic.name)

    return _decide(token, case, decision)


@bp.get("/s/<token>/withdraw")
def confirm_withdrawal(token: str) -> Response | tuple[str, int]:
    case = _case_or_404(token)
    if case.status == CaseStatus.CLOSED:
        flash(gettext("This request is already closed."), "info")
        return redirect(url_for("status.show", token=token), code=303)
    return render_template(
        "status/confirm.html", case=case, token=token, card=None,
    ), 200


@bp.post("/s/<token>/withdraw")
def withdraw(token: str) -> Response | tuple[str, int]:
    case = _case_or_404(token, for_update=True)

    def decision() -> str:
        quotes.withdraw(case)
        return gettext("Your request is withdrawn and closed; the clinics will not work on it any more.")

    return _decide(token, case, decision)


@bp.post("/s/<token>/erase")
def erase(token: str) -> Response | tuple[str, int]:
    """The link dies with this commit; the `erase_case` job deletes the rest."""
    case = _case_or_404(token, for_update=True)
    form = EraseForm(expected=case.reference)
    if not form.validate_on_submit():
        return _render(case, token, status=422, erase_form=form)
    reference = case.reference
    erasure.request_erasure(case)
    outbox.commit()
    flash(gettext("Your request %(reference)s: we are erasing your data now.", reference=reference), "success")
    # The link is dead and the case no longer says which language the patient reads: the
    # goodbye page is told, in its address (a language code, nothing personal).
    language = i18n.current_language()
    return redirect(url_for("status.erased", **({"lang": language} if language != i18n.DEFAULT else {})), code=303)


@bp.get("/s/erased")
def erased() -> tuple[str, int]:
    i18n.use_language(request.args.get("lang"))
    return render_template("status/erased.html"), 200


@bp.post("/s/<token>/rotate")
def rotate(token: str) -> tuple[str, int]:
    """"My link leaked": a new status token, e-mailed as an opener; this link, its
    openers and every browser let in under it stop working with this commit, this
    browser too (whoever holds the leaked link must not keep the case)."""
    case = _case_or_404(token, for_update=True)
    link_recovery.rotate(case)
    outbox.commit()
    return render_template("status/link_rotated.html", case=case), 200


@bp.get("/s/<token>/documents/<slot>")
def document(token: str, slot: str) -> Response:
    """The case's own paperwork, through a link that expires after DOWNLOAD_URL_TTL."""
    case = _case_or_404(token)
    found = _documents(case).get(slot)
    if found is None:
        abort(404, gettext("This document is not available for your request."))
    url = get_storage().url(
        found.storage_key,
        filename=f"{case.reference}-{slot.replace('_', '-').replace(':', '-')}.pdf",
        content_type=paperwork_store.PDF,
        expires_in=current_app.config["DOWNLOAD_URL_TTL"],
    )
    return redirect(url, code=303)
