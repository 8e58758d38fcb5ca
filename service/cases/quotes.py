"""Clinics' answers and the patient's choice: the rules, in one place.

A clinic answers a referral once (accept with a quote, or decline) and may then revise
its quote; each revision is a new `Quote` version that counts only after the patient
accepts it. The patient chooses one counting, unexpired quote; the case moves to
"chosen" and the paperwork for the trip is rendered by the workers. Views and jobs call
these functions; each writes its `CaseEvent` and records the background work in the
outbox; the caller ends with `service.outbox.commit()`. Nothing here commits."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Final

from sqlalchemy import select

from service.cases import clinic_outcome, events, patient_mail, sla
from service.cases.status import CaseStatus, ReferralState, ReferralStatus
from service.choices import currency_codes
from service.extensions import db
from service.i18n import current_language, format_amount, format_day, gettext
from service.models import Case, OutboxMessage, Quote, Referral, User
from service.limits import MAX_PRICE, MAX_STAY_DAYS, NOTES_MAX_CHARS, QUESTION_MAX_CHARS, REASON_MAX_CHARS
from service.models.quotes import FIELDS, INCLUDES
from service.outbox import Job, record
from service.paperwork import wording
from service.routing import exchange_rates, fx

# Case statuses in which the patient can still choose among the quotes.
CHOOSABLE: Final = frozenset({CaseStatus.ROUTED, CaseStatus.NEEDS_ATTENTION, CaseStatus.AWAITING_PATIENT})
WITHDRAWN_REASON: Final = "withdrawn_by_patient"
def include_labels() -> dict[str, str]:
    """What a price may cover, labelled in the page's language."""
    return {key: gettext(label) for key, label in INCLUDES.items()}


class QuoteRefused(ValueError):
    """Bad terms or an answer not allowed now. `errors` maps field names to messages
    (empty when the refusal is about the state, not a field)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


@dataclass(frozen=True)
class Terms:
    """A quote as the clinic typed it (strings from a form are fine for price)."""

    price: Decimal | str
    currency: str
    earliest_date: date
    stay_days: int
    valid_until: date
    includes: list[str] = field(default_factory=list)
    notes: str = ""


@dataclass(frozen=True)
class Change:
    label: str
    old: str
    new: str


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _today() -> date:
    return _now().date()


def check_terms(terms: Terms, today: date | None = None) -> dict[str, object]:
    """The validated values for a `Quote`, or `QuoteRefused` naming every bad field."""
    today = today or _today()
    errors: dict[str, str] = {}
    try:
        price = Decimal(str(terms.price).strip().replace(",", ""))
        if not price.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        price = Decimal(0)
        errors["price"] = "Enter the price as a number, for example 12500 or 12500.50."
    else:
        if price <= 0:
            errors["price"] = "The price must be more than zero."
        elif price >= MAX_PRICE:
            errors["price"] = f"The price must be less than {MAX_PRICE:,}."
        elif price != price.quantize(Decimal("0.01")):
            errors["price"] = "Use at most two decimal places."
    currency = (terms.currency or "").strip().upper()
    if currency not in currency_codes():
        errors["currency"] = "Choose the currency by its ISO 4217 code, for example EUR, USD or TRY."
    includes = list(dict.fromkeys(terms.includes))
    unknown = [i for i in includes if i not in INCLUDES]
    if unknown:
        errors["includes"] = f"Unknown item(s): {', '.join(unknown)}."
    elif "treatment" not in includes:
        errors["includes"] = "A quote must include the treatment itself."
    if terms.earliest_date is None or terms.earliest_date < today:
        errors["earliest_date"] = "The earliest date cannot be in the past."
    if terms.stay_days is None or not 1 <= terms.stay_days <= MAX_STAY_DAYS:
        errors["stay_days"] = f"The length of stay must be between 1 and {MAX_STAY_DAYS} days."
    if terms.valid_until is None or terms.valid_until <= today:
        errors["valid_until"] = "The quote must be valid until a date in the future."
    notes = (terms.notes or "").strip()
    if len(notes) > NOTES_MAX_CHARS:
        errors["notes"] = f"Notes can be at most {NOTES_MAX_CHARS:,} characters (these are {len(notes):,})."
    if errors:
        raise QuoteRefused("The quote has problems: " + " ".join(errors.values()), errors)
    return {
        "price": price.quantize(Decimal("0.01")), "currency": currency,
        "includes": [i for i in INCLUDES if i in includes], "earliest_date": terms.earliest_date,
        "stay_days": terms.stay_days, "valid_until": terms.valid_until, "notes": notes,
    }


def _check_open(referral: Referral) -> None:
    case = referral.case
    if case.status == CaseStatus.CLOSED or case.erased_at is not None:
        raise QuoteRefused("This case is closed; it cannot be answered any more.")
    if referral.status == ReferralStatus.WITHDRAWN:
        raise QuoteRefused("The agency withdrew this referral; it cannot be answered any more.")


def quotes_work(case: Case) -> list[OutboxMessage]:
    """A quote changed: the patient's comparison PDF is rendered again."""
    return [record(Job.RENDER_QUOTE_COMPARISON, case_id=case.id)]


def accept(referral: Referral, terms: Terms, user: User, today: date | None = None) -> Quote:
    """The clinic accepts the referral with its first quote."""
    _check_open(referral)
    if referral.status != ReferralStatus.PENDING:
        raise QuoteRefused("This referral was already answered; revise the quote instead.")
    quote = Quote(referral=referral, version=1, created_by=user, **check_terms(terms, today))
    db.session.add(quote)
    referral.status = ReferralStatus.ACCEPTED
    referral.responded_at = _now()
    sla.refresh_deadline(referral.case)
    events.record_event(
        referral.case, events.Actor.user(user), events.EventKind.CLINIC_QUOTED,
        clinic=referral.clinic.slug, clinic_name=referral.clinic.name, referral_id=referral.id,
        price=str(quote.price), currency=quote.currency,
    )
    quotes_work(referral.case)
    db.session.flush()
    if referral.case.chosen_quote_id is not None:
        # A late quote on a case whose patient already chose: the clinic learns it at once.
        clinic_outcome.record_outcome(referral)
    patient_mail.quote_arrived(referral)
    return quote


def decline(referral: Referral, reason: str, user: User) -> None:
    _check_open(referral)
    if referral.status != ReferralStatus.PENDING:
        raise QuoteRefused("This referral was already answered.")
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= REASON_MAX_CHARS:
        raise QuoteRefused(f"Give the reason in 1 to {REASON_MAX_CHARS:,} characters.", {"reason": "Give a reason."})
    referral.status = ReferralStatus.DECLINED
    referral.decline_reason = reason
    referral.responded_at = _now()
    sla.refresh_deadline(referral.case)
    events.record_event(
        referral.case, events.Actor.user(user), events.EventKind.CLINIC_DECLINED,
        clinic=referral.clinic.slug, clinic_name=referral.clinic.name, referral_id=referral.id, reason=reason,
    )
    patient_mail.referral_settled(referral.case)


def latest(referral: Referral) -> Quote | None:
    return referral.quotes[-1] if referral.quotes else None


def current(referral: Referral) -> Quote | None:
    """The version that counts: the latest the patient can act on."""
    counting = [q for q in referral.quotes if q.counts]
    return counting[-1] if counting else None


def pending_revision(referral: Referral) -> Quote | None:
    """A revision waiting for the patient's acceptance, if any."""
    newest = latest(referral)
    return newest if newest is not None and not newest.counts else None


def revise(referral: Referral, terms: Terms, user: User, today: date | None = None) -> Quote:
    """A new version of the clinic's quote; it counts once the patient accepts it."""
    _check_open(referral)
    previous = latest(referral)
    if referral.status != ReferralStatus.ACCEPTED or previous is None:
        raise QuoteRefused("Only an accepted referral with a quote can be revised.")
    if referral.state == ReferralState.NOT_CHOSEN:
        raise QuoteRefused("The patient chose another clinic; this quote can no longer be revised.")
    values = check_terms(terms, today)
    if all(getattr(previous, name) == value for name, value in values.items()):
        raise QuoteRefused("The revision changes nothing; change at least one field.")
    quote = Quote(referral=referral, version=previous.version + 1, created_by=user, **values)
    db.session.add(quote)
    events.record_event(
        referral.case, events.Actor.user(user), events.EventKind.QUOTE_REVISED,
        clinic=referral.clinic.slug, clinic_name=referral.clinic.name, referral_id=referral.id,
        version=quote.version,
    )
    quotes_work(referral.case)
    db.session.flush()
    patient_mail.announce(referral.case, patient_mail.PatientEvent.REVISED_QUOTE, ref=quote.id)
    return quote


def ask_agency(referral: Referral, question: str, user: User) -> None:
    """A clinic's question to the agency: it lands on the staff timeline."""
    _check_open(referral)
    question = (question or "").strip()
    if not 1 <= len(question) <= QUESTION_MAX_CHARS:
        raise QuoteRefused(f"Write the question in 1 to {QUESTION_MAX_CHARS:,} characters.",
                           {"question": "Write your question."})
    events.record_event(
        referral.case, events.Actor.user(user), events.EventKind.CLINIC_QUESTION,
        clinic=referral.clinic.slug, clinic_name=referral.clinic.name, referral_id=referral.id, question=question,
    )


def _display(name: str, value: object) -> str:
    if name == "includes":
        labels = include_labels()
        return ", ".join(labels.get(str(i), str(i)) for i in value) or "—"  # type: ignore[union-attr]
    if isinstance(value, date):
        return format_day(value)
    if isinstance(value, Decimal):
        return format_amount(value)
    return str(value) if value not in (None, "") else "—"


def changes(old: Quote, new: Quote) -> list[Change]:
    """What a revision changed, in words (the page's language), for the patient to accept or not."""
    return [
        Change(gettext(label), _display(name, getattr(old, name)), _display(name, getattr(new, name)))
        for name, label in FIELDS.items() if getattr(old, name) != getattr(new, name)
    ]


def _case_quote(case: Case, quote_id: int) -> Quote:
    quote = db.session.get(Quote, quote_id)
    if quote is None or quote.referral.case_id != case.id:
        raise QuoteRefused(gettext("There is no such quote on this request."))
    return quote


def accept_revision(case: Case, quote_id: int) -> Quote:
    """The patient accepts a clinic's revised quote; if they had chosen that clinic,
    their choice moves to the revision (and the paperwork follows)."""
    quote = _case_quote(case, quote_id)
    if quote.counts or pending_revision(quote.referral) is not quote:
        raise QuoteRefused(gettext("This revision is not waiting for your acceptance."))
    quote.patient_accepted_at = _now()
    events.record_event(
        case, events.Actor.PATIENT, events.EventKind.REVISION_ACCEPTED,
        clinic=quote.referral.clinic.slug, clinic_name=quote.referral.clinic.name, version=quote.version,
    )
    quotes_work(case)
    if case.chosen_quote is not None and case.chosen_quote.referral_id == quote.referral_id:
        case.chosen_quote = quote
        choice_work(case)
    return quote


def choose(case: Case, quote_id: int, today: date | None = None) -> Quote:
    """The patient chooses a quote: the case moves to "chosen", staff are told and the
    booking paperwork is rendered."""
    today = today or _today()
    quote = _case_quote(case, quote_id)
    if case.status not in CHOOSABLE:
        raise QuoteRefused(gettext("A clinic can be chosen only while the request is with the clinics."))
    if not quote.counts:
        raise QuoteRefused(gettext("Accept the clinic's revised quote before choosing it."))
    if current(quote.referral) is not quote:
        raise QuoteRefused(gettext("The clinic has revised this quote; choose its latest version."))
    if quote.valid_until < today:
        raise QuoteRefused(gettext("This quote expired on %(date)s; ask the clinic for a new one.",
                                   date=format_day(quote.valid_until)))
    if quote.referral.status != ReferralStatus.ACCEPTED:
        raise QuoteRefused(gettext("This clinic's offer is no longer open."))
    case.chosen_quote = quote
    events.change_status(
        case, CaseStatus.CHOSEN, events.Actor.PATIENT,
        clinic=quote.referral.clinic.slug, referral_id=quote.referral_id, quote_id=quote.id,
    )
    choice_work(case)
    return quote


def choice_work(case: Case) -> list[OutboxMessage]:
    """After a choice: the booking summary and the visa support letter for the patient,
    a message to the staff, and each clinic that quoted told whether it was chosen."""
    return [
        record(Job.RENDER_BOOKING_SUMMARY, case_id=case.id),
        record(Job.RENDER_VISA_LETTER, case_id=case.id),
        record(Job.NOTIFY_STAFF_CHOICE, case_id=case.id),
        *clinic_outcome.record_outcomes(case),
    ]


def withdraw(case: Case) -> None:
    """The patient withdraws the request: it closes, and open referrals are withdrawn so
    clinics stop working on it."""
    if case.status == CaseStatus.CLOSED:
        raise QuoteRefused(gettext("This request is already closed."))
    for referral in db.session.scalars(select(Referral).where(Referral.case_id == case.id)):
        if referral.status in ReferralStatus.open():
            referral.status = ReferralStatus.WITHDRAWN
    case.closed_reason = WITHDRAWN_REASON
    events.change_status(case, CaseStatus.CLOSED, events.Actor.PATIENT, reason=WITHDRAWN_REASON)
    patient_mail.announce(case, patient_mail.PatientEvent.CASE_WITHDRAWN, ref=case.version)


@dataclass(frozen=True)
class Compared:
    """One counting quote with its price in the comparison's currency (None: no rate)."""

    referral: Referral
    quote: Quote
    converted: fx.Converted | None


@dataclass(frozen=True)
class Comparison:
    """The quotes of a case side by side in one currency, at one reading of the rates."""

    currency: str
    rates: fx.Rates
    rows: list[Compared]

    def pairs(self) -> list[tuple[Referral, Quote]]:
        return [(row.referral, row.quote) for row in self.rows]

    def of(self, quote: Quote) -> Compared | None:
        return next((row for row in self.rows if row.quote.id == quote.id), None)


def comparison_currency(case: Case) -> str:
    """The currency the patient compares in: their budget's, else EUR."""
    return (case.budget_currency or fx.DEFAULT_CURRENCY).strip().upper()


def converted(quote: Quote, currency: str, rates: fx.Rates) -> fx.Converted | None:
    return fx.convert(quote.price, quote.currency, currency, rates)


def compared(case: Case, today: date | None = None, rates: fx.Rates | None = None) -> Comparison:
    """The counting quotes of a case, cheapest first by their price converted into the
    patient's currency; a quote whose currency has no rate after those that convert;
    expired ones last. Reads the rate table once unless `rates` is given."""
    today = today or _today()
    rates = rates if rates is not None else exchange_rates(db.session)
    currency = comparison_currency(case)
    rows = []
    for referral in db.session.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.id)):
        quote = current(referral) if referral.status == ReferralStatus.ACCEPTED else None
        if quote is not None:
            rows.append(Compared(referral, quote, converted(quote, currency, rates)))
    rows.sort(key=lambda r: (
        r.quote.valid_until < today, r.converted is None,
        r.converted.amount if r.converted is not None else Decimal(0),
        r.quote.currency, r.quote.price, r.referral.id,
    ))
    return Comparison(currency, rates, rows)


def comparison(case: Case, today: date | None = None, rates: fx.Rates | None = None) -> list[tuple[Referral, Quote]]:
    """The (referral, quote) pairs in the order of `compared`."""
    return compared(case, today, rates).pairs()


def converted_text(row: Compared, currency: str) -> str:
    """The converted price in words, in the page's language: "≈ 10,212 USD at the rate
    of 2026-11-30"; that the rate is missing; "" when the quote is in `currency`."""
    if row.converted is None:
        return gettext("No exchange rate for %(currency)s: this quote cannot be converted to %(target)s "
                       "and is listed last.", currency=row.quote.currency, target=currency)
    if row.converted.rate_date is None:
        return ""
    return gettext("≈ %(amount)s at the rate of %(date)s",
                   amount=wording.format_whole_money(row.converted.amount, currency, current_language()),
                   date=format_day(row.converted.rate_date))
