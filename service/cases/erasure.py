"""Erasing a patient's data on request: the stored files and documents are deleted and
the personal fields blanked, leaving an anonymous record (treatment, country, dates,
statuses, referrals and quotes) for statistics, and a timeline event. The status link
stops working the moment erasure is asked for (its hash is replaced)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Final

from sqlalchemy import delete, func, select, update

from service.cases import events
from service.cases import deposit
from service.cases import trip
from service.cases.status import CaseStatus
from service.cases.tokens import new_token
from service.extensions import db
from service.models import (
    Attachment,
    Case,
    CaseEvent,
    CaseMessage,
    DerivedFile,
    Document,
    IdempotencyKey,
    Notification,
    PatientQuestion,
)
from service.outbox import Job, record
from storage import Storage

log = logging.getLogger(__name__)

ERASED: Final = "erased"
# The reason on the `erasure_requested` event when the retention period, not the
# patient, asked for it.
RETENTION: Final = "retention"
# What people wrote into timeline events (event kind → detail keys); erasure drops these
# keys and keeps the rest (statuses, clinics, reason codes) for statistics.
FREE_TEXT: Final[dict[str, frozenset[str]]] = {
    "note": frozenset({"body"}),
    "clinic_question": frozenset({"question"}),
    "clinic_declined": frozenset({"reason"}),
    "status_changed": frozenset({"question"}),
    # A file's name can say what it shows ("MRI knee.pdf").
    "file_opened": frozenset({"file"}),
    "file_withheld": frozenset({"file"}),
    "original_downloaded": frozenset({"file"}),
    # The trip: travellers' names, and what each leg said (hotel, pick-up place, flight).
    "traveller_added": frozenset({"traveller"}),
    "traveller_changed": frozenset({"traveller"}),
    "traveller_removed": frozenset({"traveller"}),
    "leg_added": frozenset({"summary"}),
    "leg_changed": frozenset({"summary"}),
    "leg_cancelled": frozenset({"summary"}),
    # Why contact details went to a clinic the patient did not choose (staff's words).
    "contact_released": frozenset({"reason"}),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def request_erasure(case: Case) -> None:
    """Asked for from the status page: the link dies now, the job does the rest."""
    if case.erasure_requested_at is not None:
        return
    _mark(case)
    events.record_event(case, events.Actor.PATIENT, events.EventKind.ERASURE_REQUESTED)
    record(Job.ERASE_CASE, case_id=case.id)


def _mark(case: Case) -> None:
    case.erasure_requested_at = _now()
    case.token_hash = new_token()[1]


def due_for_retention(now: datetime, days: int) -> list[int]:
    """Ids of the cases closed for longer than `days` (the time of their last status
    change, which for a closed case is its closing) and neither erased nor asked to be;
    none when `days` is 0 (retention off). Oldest id first."""
    if days <= 0:
        return []
    last_change = (
        select(CaseEvent.case_id, func.max(CaseEvent.created_at).label("at"))
        .where(CaseEvent.kind == events.EventKind.STATUS_CHANGED)
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    return list(db.session.scalars(
        select(Case.id)
        .join(last_change, last_change.c.case_id == Case.id)
        .where(
            Case.status == CaseStatus.CLOSED.value,
            Case.erased_at.is_(None),
            Case.erasure_requested_at.is_(None),
            last_change.c.at < now - timedelta(days=days),
        )
        .order_by(Case.id)
    ))


def apply_retention(now: datetime, days: int, *, dry_run: bool = False) -> list[Case]:
    """Ask for the erasure of every case `due_for_retention`, as `request_erasure` does
    but on the system's behalf (reason `retention`): the link dies, an `erase_case`
    outbox row does the rest. The caller commits (`service.outbox.commit`). A dry run changes nothing
    and returns what would be erased."""
    due = [db.session.get(Case, case_id) for case_id in due_for_retention(now, days)]
    if dry_run:
        return due
    for case in due:
        _mark(case)
        events.record_event(case, events.Actor.SYSTEM, events.EventKind.ERASURE_REQUESTED, reason=RETENTION, days=days)
        record(Job.ERASE_CASE, case_id=case.id)
        log.info("case %s: closed for more than %d day(s), erasure requested", case.reference, days)
    return due


def erase(case: Case, storage: Storage) -> None:
    """Delete the objects first (a failure retries the job with nothing blanked yet),
    then blank the row. Running it twice changes nothing more."""
    if case.erased_at is not None:
        return
    attachments = list(db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)))
    documents = list(db.session.scalars(select(Document).where(Document.case_id == case.id)))
    # Previews and clinic copies, and a disc's list of members (their paths can name the patient).
    derived = list(db.session.scalars(
        select(DerivedFile).where(DerivedFile.attachment_id.in_([a.id for a in attachments]))
    )) if attachments else []
    keys = [d.storage_key for d in derived if d.storage_key] + [a.storage_key for a in attachments]
    for key in keys + [d.storage_key for d in documents]:
        storage.delete(key)
    for row in derived:
        db.session.delete(row)
    db.session.flush()
    for row in attachments + documents:
        db.session.delete(row)
    # The conversation keeps who wrote and when, not what (nor the names of refused files).
    db.session.execute(
        update(CaseMessage).where(CaseMessage.case_id == case.id)
        .values(body=ERASED, refused_files=[], email_message_id=None)
    )
    for question in db.session.scalars(select(PatientQuestion).where(PatientQuestion.case_id == case.id)):
        question.question = ERASED
        question.answer = ERASED if question.answer is not None else None
    deposit.forget_notes(case)  # the sums and dates stay for the books, not what staff noted
    erased_email = f"erased-{case.id}@erased.invalid"
    # A stored API response (sealed, but it names the patient's files) goes with the data.
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.case_id == case.id))
    # Emails sent to the patient keep their kind and time, not the address.
    db.session.execute(
        update(Notification)
        .where(Notification.case_id == case.id, Notification.recipient == case.email)
        .values(recipient=erased_email)
    )
    # The travellers (their sealed passports) and every leg of the trip go.
    travellers, legs = trip.erase_trip(case)
    case.full_name = ERASED
    case.email = erased_email
    case.phone = case.date_of_birth = None
    case.description = ERASED
    case.travel_window = case.medications = case.allergies = case.conditions = None
    case.erased_at = _now()
    # The timeline is append-only for people; erasure is the one rewrite the law asks
    # for, done in SQL so the ORM guard keeps refusing everything else.
    written = db.session.execute(
        select(CaseEvent.id, CaseEvent.kind, CaseEvent.details)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind.in_(FREE_TEXT))
    ).all()
    for event_id, kind, details in written:
        if FREE_TEXT[kind] & set(details or {}):
            kept = {k: v for k, v in details.items() if k not in FREE_TEXT[kind]}
            db.session.execute(update(CaseEvent).where(CaseEvent.id == event_id).values(details=kept))
    events.record_event(case, events.Actor.SYSTEM, events.EventKind.DATA_ERASED, files=len(attachments), documents=len(documents),
                        derived=len(derived), travellers=travellers, trip_legs=legs)
    log.info("case %s: personal data erased (%d file(s), %d document(s))", case.reference, len(attachments), len(documents))
