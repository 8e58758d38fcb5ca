"""The e-mails that keep the patient informed over the weeks a case runs: what
happened (`PatientEvent`), `announce` (recorded in the caller's transaction; the
outbox job sends it) and `send` (the job's work: once per event, through the
notifications ledger). The hooks where events happen call `announce` (or the helpers
here that decide whether an event happened: `quote_arrived`, `referral_settled`,
`booking_document_stored`), and the worker's periodic table runs `remind_questions`.

Every e-mail names the reference and one generic sentence (service.notifications.
lifecycle), nothing of the case's health data, and carries a single-use opener to the
status page, issued only when the e-mail is actually sent."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from enum import StrEnum
from typing import Final

from flask import current_app
from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy import case as sql_case

from service import limits
from service.cases import case_mail, openers, trip, trip_calendar
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.links import external_url
from service.models import Case, Document, Invoice, Notification, PatientQuestion, Referral
from service.models.document import BOOKING_SLOTS
from service.models.trip import LegKind, TripLeg
from service.notifications import lifecycle, reply_address
from service.outbox import Job, commit, record
from service.paperwork import wording

log = logging.getLogger(__name__)

# A referral no longer keeps the patient waiting: the clinic answered, the referral
# was withdrawn, or (below, `overdue_at`) the clinic's answer clock ran out.
_SETTLED: Final = frozenset({ReferralStatus.ACCEPTED, ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN})


class PatientEvent(StrEnum):
    """What the patient is told about; the value names the e-mail in the ledger."""

    QUESTION = "question"
    QUESTION_REMINDER = "question_reminder"
    QUOTES_READY_FIRST = "quotes_ready_first"
    QUOTES_READY_ALL = "quotes_ready_all"
    REVISED_QUOTE = "revised_quote"
    BOOKING_DOCUMENTS = "booking_documents"
    COORDINATOR_MESSAGE = "coordinator_message"
    CASE_CLOSED = "case_closed"
    CASE_WITHDRAWN = "case_withdrawn"
    NEW_LINK = "new_link"
    DEPOSIT_INVOICE = "deposit_invoice"
    TRAVEL_BOOKED = "travel_booked"
    TRIP_REMINDER = "trip_reminder"


def ledger_kind(event: PatientEvent, ref: int | None = None, step: int | None = None) -> str:
    """The notifications ledger's kind: one e-mail per event, ref and reminder step,
    e.g. "patient_question:12", "patient_question_reminder:12:3", "patient_quotes_ready_all"."""
    return ":".join([f"patient_{PatientEvent(event).value}", *(str(part) for part in (ref, step) if part is not None)])


def announce(case: Case, event: PatientEvent, ref: int | None = None) -> None:
    """Record the e-mail about `event` in the current transaction; the outbox job sends it
    once the transaction commits, and only once (the ledger kind includes `ref`)."""
    record(Job.NOTIFY_PATIENT_EVENT, case_id=case.id, event=PatientEvent(event).value, ref=ref)


def send(case: Case, event: PatientEvent, ref: int | None = None, step: int | None = None) -> bool:
    """Send the e-mail `announce` recorded unless the ledger has it; True if sent now.
    Nothing for a case erased or being erased, or when what it would announce is no
    longer so (the question was answered meanwhile, the booking paperwork is not all
    stored yet). Commits (`notify_once`): the job's last step."""
    if case.erasure_requested_at is not None or case.erased_at is not None or not case.email:
        return False
    if not _still_so(case, event, ref, step):
        return False
    config = current_app.config

    def build() -> EmailMessage:
        return lifecycle.patient_event(
            event=event.value,
            reference=case.reference,
            opener_url=openers.url(openers.issue(case)),
            opener_days=limits.OPENER_TTL_DAYS,
            language=case.language,
            mail_from=config["MAIL_FROM"],
            to=case.email,
            headers=reply_address.headers_for(case.id),
            details={**_details(case, event, ref), **_trip_details(case, event, ref, step)},
            calendar_url=calendar_url(case) if event == PatientEvent.TRAVEL_BOOKED else None,
        )

    return case_mail.to_patient(case, ledger_kind(event, ref, step), build)


def _still_so(case: Case, event: PatientEvent, ref: int | None, step: int | None = None) -> bool:
    if event in (PatientEvent.QUESTION, PatientEvent.QUESTION_REMINDER):
        question = db.session.get(PatientQuestion, ref) if ref is not None else None
        return question is not None and question.case_id == case.id and question.answered_at is None
    if event == PatientEvent.BOOKING_DOCUMENTS:
        return _booking_documents_stored(case)
    if event == PatientEvent.TRIP_REMINDER:
        return trip.reminder_values(case, ref, step) is not None
    if event == PatientEvent.DEPOSIT_INVOICE:
        invoice = db.session.get(Invoice, ref) if ref is not None else None
        return invoice is not None and invoice.case_id == case.id and invoice.cancelled_at is None
    return True


def _details(case: Case, event: PatientEvent, ref: int | None) -> dict[str, str]:
    """What an e-mail's sentence names beyond the reference, formatted in the patient's
    language: for the deposit invoice its number, amount and due date (money, no health data)."""
    if event == PatientEvent.DEPOSIT_INVOICE and ref is not None:
        invoice = db.session.get(Invoice, ref)
        if invoice is not None:
            return {"number": invoice.number,
                    "amount": wording.format_money(invoice.amount, invoice.currency, case.language),
                    "due": wording.format_date(invoice.due_on, case.language)}
    return {}


# ---------------------------------------------------------------- quotes


def _referrals(case: Case) -> list[Referral]:
    return list(db.session.scalars(select(Referral).where(Referral.case_id == case.id)))


def _settled(referral: Referral) -> bool:
    return referral.status in _SETTLED or referral.overdue_at is not None


def _quoted(referral: Referral) -> bool:
    return referral.status == ReferralStatus.ACCEPTED and bool(referral.quotes)


def _past_choosing(case: Case) -> bool:
    """Closed, or the patient chose already: a late quote is no news for them."""
    return case.status == CaseStatus.CLOSED or case.chosen_quote_id is not None


def referral_settled(case: Case) -> bool:
    """A referral was answered (or its clock ran out): when none keeps the patient
    waiting any more and at least one clinic quoted, announce "quotes are ready" (once per
    case: the ledger). True if announced now. The answer clock calls this at breach."""
    found = _referrals(case)
    if _past_choosing(case) or not found:
        return False
    if not all(_settled(referral) for referral in found) or not any(_quoted(referral) for referral in found):
        return False
    announce(case, PatientEvent.QUOTES_READY_ALL)
    return True


def quote_arrived(referral: Referral) -> None:
    """A clinic quoted: "all quotes are ready" if this was the last answer awaited, else
    "a first quote is ready" if it is the only quote so far. Never one e-mail per clinic."""
    case = referral.case
    if _past_choosing(case) or referral_settled(case):
        return
    if sum(_quoted(other) for other in _referrals(case)) == 1:
        announce(case, PatientEvent.QUOTES_READY_FIRST)


# ---------------------------------------------------------------- booking paperwork


def _booking_documents_stored(case: Case) -> bool:
    slots = set(db.session.scalars(
        select(Document.slot).where(Document.case_id == case.id, Document.slot.in_(BOOKING_SLOTS))
    ))
    return slots == set(BOOKING_SLOTS)


def booking_document_stored(case: Case) -> None:
    """A booking document was stored (`BOOKING_SLOTS`: the summary; visa letters wait for
    the passports). The job sends once they are all there, once per chosen quote (a
    choice moved to a revised quote gets new documents)."""
    if case.chosen_quote_id is not None:
        announce(case, PatientEvent.BOOKING_DOCUMENTS, ref=case.chosen_quote_id)


# ---------------------------------------------------------------- question reminders


def reminder_step(asked_at: datetime, now: datetime) -> int | None:
    """The latest reminder step (days, `limits.QUESTION_REMINDER_DAYS`) a question asked
    at `asked_at` has reached by `now`; None before the first."""
    reached = [days for days in limits.QUESTION_REMINDER_DAYS if asked_at + timedelta(days=days) <= now]
    return max(reached) if reached else None


def remind_questions(now: datetime | None = None) -> int:
    """The periodic chore: announce a reminder for every open question that reached a
    reminder step whose e-mail is not in the ledger yet. A worker that was down over
    both steps sends the latest only; after the last step, nothing. Commits through the
    commit point; how many were announced."""
    now = now or datetime.now(timezone.utc)
    first = timedelta(days=min(limits.QUESTION_REMINDER_DAYS))
    due = db.session.execute(
        select(PatientQuestion, Case)
        .join(Case, Case.id == PatientQuestion.case_id)
        .where(
            PatientQuestion.answered_at.is_(None),
            PatientQuestion.asked_at <= now - first,
            Case.status == CaseStatus.AWAITING_PATIENT,
            Case.erasure_requested_at.is_(None),
            Case.erased_at.is_(None),
        )
        .order_by(PatientQuestion.id)
    ).all()
    announced = 0
    for question, case in due:
        step = reminder_step(question.asked_at, now)
        kind = ledger_kind(PatientEvent.QUESTION_REMINDER, question.id, step)
        if step is None or db.session.scalar(
            select(Notification.id).where(Notification.case_id == case.id, Notification.kind == kind)
        ) is not None:
            continue
        record(Job.NOTIFY_PATIENT_EVENT, case_id=case.id, event=PatientEvent.QUESTION_REMINDER.value,
               ref=question.id, step=step)
        announced += 1
    commit()
    if announced:
        log.info("announced %d question reminder(s)", announced)
    return announced


# ---------------------------------------------------------------- the trip


def calendar_url(case: Case) -> str | None:
    """The trip's calendar link in the "travel booked" e-mail: a signed key of its own
    (`trip_calendar.feed_key`), since the case keeps only its status link's hash."""
    return external_url("status_calendar.feed", key=trip_calendar.feed_key(case))


def _trip_details(case: Case, event: PatientEvent, ref: int | None, step: int | None) -> dict[str, str]:
    """The reminder's flight: number, city, local time and zone, days to go (no health data)."""
    if event != PatientEvent.TRIP_REMINDER:
        return {}
    return trip.reminder_values(case, ref, step) or {}


def remind_departures(now: datetime | None = None) -> int:
    """The periodic chore: for each outbound flight that reached a reminder step
    (`limits.TRIP_REMINDER_DAYS`: 7 days, then 1 day before it leaves), record the
    patient's e-mail about it, once per (flight, step). One query finds the flights
    leaving within the first step on open trips; the ledger (kind
    "patient_trip_reminder:<leg>:<days>") makes a second run, or a second worker, send
    nothing more. A worker down over the 7-day step sends the 1-day one only. Commits
    through the commit point; how many were recorded."""
    now = now or datetime.now(timezone.utc)
    steps = sorted(limits.TRIP_REMINDER_DAYS)
    # The step each flight is at, and its ledger kind, computed in the query itself.
    step = sql_case(*((TripLeg.starts_at <= now + timedelta(days=days), days) for days in steps[:-1]),
                else_=steps[-1])
    kind = (literal(f"{ledger_kind(PatientEvent.TRIP_REMINDER)}:") + cast(TripLeg.id, String) + literal(":")
            + cast(step, String))
    due = db.session.execute(
        select(TripLeg.id, Case.id, step)
        .join(Case, Case.id == TripLeg.case_id)
        .where(
            TripLeg.kind == LegKind.OUTBOUND_FLIGHT.value,
            TripLeg.cancelled_at.is_(None),
            TripLeg.starts_at > now,
            TripLeg.starts_at <= now + timedelta(days=steps[-1]),
            Case.status.in_([s.value for s in trip.TRIP_STATUSES]),
            Case.erasure_requested_at.is_(None),
            Case.erased_at.is_(None),
            ~exists().where(Notification.case_id == Case.id, Notification.kind == kind),
        )
        .order_by(TripLeg.id)
    ).all()
    for leg_id, case_id, days in due:
        record(Job.NOTIFY_PATIENT_EVENT, case_id=case_id, event=PatientEvent.TRIP_REMINDER.value, ref=leg_id,
               step=int(days))
    recorded = len(due)
    commit()
    if recorded:
        log.info("recorded %d trip reminder(s)", recorded)
    return recorded
