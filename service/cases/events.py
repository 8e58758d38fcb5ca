"""The case timeline. Every status change goes through `change_status`, so no
change can happen without its audit event."""
from __future__ import annotations

from enum import StrEnum
from typing import Any

from service.cases import sla
from service.cases.status import CaseStatus
from service.extensions import db
from service.i18n import gettext, ngettext
from service.models import Case, CaseEvent, User

class Actor(StrEnum):
    """Who an event is by, as stored in `CaseEvent.actor`: the patient, the system, or a
    person of the agency or a clinic (`Actor.STAFF.of(email)` is "staff:<email>")."""

    PATIENT = "patient"
    SYSTEM = "system"
    STAFF = "staff"
    CLINIC = "clinic"

    def of(self, email: str) -> str:
        """The actor of something the person with `email` did: "staff:<email>", "clinic:<email>"."""
        return f"{self}:{email}"

    @classmethod
    def user(cls, user: User) -> str:
        """The actor for a signed-in person: a clinic's user or the agency's staff."""
        return (cls.CLINIC if user.clinic_id is not None else cls.STAFF).of(user.email)


class EventKind(StrEnum):
    """What happened, as stored in `CaseEvent.kind` (the member's value)."""

    CASE_SUBMITTED = "case_submitted"
    FILES_ADDED = "files_added"
    FILES_NOT_STORED = "files_not_stored"
    STATUS_CHANGED = "status_changed"
    JOB_FAILED = "job_failed"
    JOB_RETRYING = "job_retrying"
    JOB_RETRIED = "job_retried"
    CASE_VIEWED = "case_viewed"
    FILE_OPENED = "file_opened"
    ASSIGNMENT_QUEUED = "assignment_queued"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    PRIORITY_SET = "priority_set"
    TREATMENT_CORRECTED = "treatment_corrected"
    NOTE = "note"
    CONTACT_RELEASED = "contact_released"
    PAPERWORK_REQUESTED = "paperwork_requested"
    AUDIT_EXPORTED = "audit_exported"
    CLINIC_QUOTED = "clinic_quoted"
    CLINIC_DECLINED = "clinic_declined"
    QUOTE_REVISED = "quote_revised"
    REVISION_ACCEPTED = "revision_accepted"
    CLINIC_QUESTION = "clinic_question"
    ERASURE_REQUESTED = "erasure_requested"
    DATA_ERASED = "data_erased"
    PATIENT_MESSAGE = "patient_message"
    STAFF_MESSAGE = "staff_message"
    MESSAGE_FORWARDED = "message_forwarded"
    CLINIC_REMINDED = "clinic_reminded"
    CLINIC_OVERDUE = "clinic_overdue"
    REFERRAL_ESCALATED = "referral_escalated"
    ESCALATION_IMPOSSIBLE = "escalation_impossible"
    LINK_ROTATED = "link_rotated"
    LINKS_EMAILED = "links_emailed"
    FILE_WITHHELD = "file_withheld"
    ORIGINAL_DOWNLOADED = "original_downloaded"
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_RECORDED = "payment_recorded"
    REFUND_RECORDED = "refund_recorded"
    INVOICE_CANCELLED = "invoice_cancelled"
    TRAVELLER_ADDED = "traveller_added"
    TRAVELLER_CHANGED = "traveller_changed"
    TRAVELLER_REMOVED = "traveller_removed"
    LEG_ADDED = "leg_added"
    LEG_CHANGED = "leg_changed"
    LEG_CANCELLED = "leg_cancelled"


def record_event(case: Case, actor: str, kind: EventKind, **details: Any) -> CaseEvent:
    event = CaseEvent(case=case, actor=actor, kind=kind, details=details)
    db.session.add(event)
    return event


def change_status(case: Case, new: CaseStatus, actor: str, **details: Any) -> CaseEvent:
    """The one function that changes a case's status; it stores the case's SLA
    deadline again (`sla.refresh_deadline`), so set a pause or its end before calling."""
    old = case.status
    case.status = new
    sla.refresh_deadline(case)
    return record_event(case, actor, EventKind.STATUS_CHANGED, old=old, new=str(new), **details)


# What the patient's status page and API show; the rest is for staff. (The patient's
# wording of these is `_for_patient`; `_DESCRIPTIONS` is the staff console's.)
PATIENT_VISIBLE = frozenset({
    EventKind.LINK_ROTATED,
    EventKind.CASE_SUBMITTED, EventKind.FILES_ADDED, EventKind.FILES_NOT_STORED, EventKind.STATUS_CHANGED,
    EventKind.CLINIC_QUOTED, EventKind.QUOTE_REVISED, EventKind.REVISION_ACCEPTED, EventKind.ERASURE_REQUESTED,
    EventKind.PATIENT_MESSAGE, EventKind.STAFF_MESSAGE,
})


def patient_timeline(case: Case) -> list[CaseEvent]:
    return [e for e in case.events if e.kind in PATIENT_VISIBLE]


_DESCRIPTIONS: dict[EventKind, str] = {
    EventKind.CASE_SUBMITTED: "Request received",
    EventKind.FILES_ADDED: "{count} file(s) added",
    EventKind.FILES_NOT_STORED: "{count} file(s) could not be stored; they can be added again from this page",
    EventKind.STATUS_CHANGED: "Status: {new_label}",
    EventKind.JOB_FAILED: "Background job {job} failed: {error}",
    EventKind.JOB_RETRYING: "Background job {job} failed and will be tried again: {error}",
    EventKind.JOB_RETRIED: "Background job {job} retried",
    EventKind.CASE_VIEWED: "Case file viewed",
    EventKind.FILE_OPENED: "File opened: {file}",
    EventKind.ASSIGNED: "Assigned to {assignee}",
    EventKind.UNASSIGNED: "Unassigned (was {previous})",
    EventKind.PRIORITY_SET: "Priority set to {new} (was {old})",
    EventKind.TREATMENT_CORRECTED: "Treatment corrected from {old_name} to {new_name}",
    EventKind.NOTE: "Note: {body}",
    EventKind.CONTACT_RELEASED: "Patient's contact details released to {clinic_name}",
    EventKind.PAPERWORK_REQUESTED: "Paperwork regeneration requested",
    EventKind.CLINIC_QUOTED: "{clinic_name} sent a quote",
    EventKind.CLINIC_DECLINED: "{clinic_name} declined: {reason}",
    EventKind.QUOTE_REVISED: "{clinic_name} revised its quote (version {version})",
    EventKind.REVISION_ACCEPTED: "Revised quote from {clinic_name} accepted",
    EventKind.CLINIC_QUESTION: "Question from {clinic_name}: {question}",
    EventKind.ERASURE_REQUESTED: "Erasure of personal data requested",
    EventKind.DATA_ERASED: "Personal data erased",
    EventKind.PATIENT_MESSAGE: "The patient wrote a message ({source})",
    EventKind.STAFF_MESSAGE: "Message sent to the patient",
    EventKind.MESSAGE_FORWARDED: "Patient's message forwarded to {clinic_name}: {forwarded}",
    EventKind.CLINIC_REMINDED: "{clinic_name} reminded: {hours_left} h left to answer",
    EventKind.CLINIC_OVERDUE: "{clinic_name} did not answer within {hours} h; the referral is overdue",
    EventKind.REFERRAL_ESCALATED: "Referred to {clinic_name} because {late_clinic_name} did not answer within {hours} h",
    EventKind.ESCALATION_IMPOSSIBLE: "{late_clinic_name} did not answer within {hours} h and no other clinic can take the case: {reason}",
    EventKind.LINK_ROTATED: "The patient replaced the status link; the new one was e-mailed as an opener",
    EventKind.LINKS_EMAILED: "A link to the status page was e-mailed to the patient (asked on /s/lost)",
    EventKind.FILE_WITHHELD: "{file} is withheld from clinics: no de-identified copy could be made ({reason})",
    EventKind.ORIGINAL_DOWNLOADED: "{clinic_name} downloaded the original of {file} (contact details released)",
    EventKind.INVOICE_ISSUED: "Deposit invoice {number} issued: {amount} {currency} due by {due_on}",
    EventKind.PAYMENT_RECORDED: "Payment of {amount} {currency} recorded on {number} (received {received_on})",
    EventKind.REFUND_RECORDED: "Refund of {amount} {currency} recorded on {number} (paid back {received_on})",
    EventKind.INVOICE_CANCELLED: "Deposit invoice {number} cancelled",
    EventKind.TRAVELLER_ADDED: "Traveller added ({role}): {traveller}",
    EventKind.TRAVELLER_CHANGED: "Traveller's passport details changed ({role}): {traveller}",
    EventKind.TRAVELLER_REMOVED: "Traveller removed ({role}): {traveller}",
    EventKind.LEG_ADDED: "Trip: {leg_label} added: {summary}",
    EventKind.LEG_CHANGED: "Trip: {leg_label} changed (update {sequence}): {summary}",
    EventKind.LEG_CANCELLED: "Trip: {leg_label} removed: {summary}",
}


def _for_patient(kind: str, details: dict[str, Any]) -> str | None:
    """The patient's wording of what they see on their timeline, in the page's language
    (English for the API); None when the event lacks what the sentence needs."""
    count, clinic = details.get("count"), details.get("clinic_name")
    if kind == EventKind.CASE_SUBMITTED:
        return gettext("Request received")
    if kind == EventKind.FILES_ADDED and isinstance(count, int):
        return ngettext("%(num)d file added", "%(num)d files added", count)
    if kind == EventKind.FILES_NOT_STORED and isinstance(count, int):
        return ngettext(
            "%(num)d file could not be stored; it can be added again from this page",
            "%(num)d files could not be stored; they can be added again from this page",
            count,
        )
    if kind == EventKind.STATUS_CHANGED and details.get("new") in CaseStatus.__members__.values():
        return gettext("Status: %(status)s", status=CaseStatus(details["new"]).label)
    if kind == EventKind.CLINIC_QUOTED and clinic:
        return gettext("%(clinic)s sent a quote", clinic=clinic)
    if kind == EventKind.QUOTE_REVISED and clinic:
        return gettext("%(clinic)s revised its quote (version %(version)s)",
                       clinic=clinic, version=details.get("version", ""))
    if kind == EventKind.REVISION_ACCEPTED and clinic:
        return gettext("Revised quote from %(clinic)s accepted", clinic=clinic)
    if kind == EventKind.ERASURE_REQUESTED:
        return gettext("Erasure of personal data requested")
    if kind == EventKind.PATIENT_MESSAGE:
        if details.get("automatic"):
            return gettext("An automatic reply from your mailbox was received")
        return gettext("You wrote to your coordinator")
    if kind == EventKind.STAFF_MESSAGE:
        return gettext("Your coordinator wrote to you")
    if kind == EventKind.LINK_ROTATED:
        return gettext("You asked for a new link: the old one no longer works")
    return None


def _forwarded_parts(details: dict[str, Any]) -> str:
    """"its text and 2 files", "its text", "1 file": what a forward passed on (forwards
    recorded before parts existed passed on both)."""
    parts = set(details.get("parts") or ("text", "files"))
    files = int(details.get("files") or 0)
    counted = f"{files} file" + ("" if files == 1 else "s")
    if parts >= {"text", "files"} and files:
        return f"its text and {counted}"
    return "its text" if "text" in parts else counted


def describe(event: CaseEvent, *, staff: bool = False) -> str:
    """Timeline wording for people: the patient's in the page's language, or the staff
    console's (English, its own status names) when `staff`; unknown kinds fall back to
    their name."""
    if not staff and event.kind in PATIENT_VISIBLE:
        text = _for_patient(event.kind, dict(event.details or {}))
        if text is not None:
            return text
    template = _DESCRIPTIONS.get(event.kind)
    if template is None:
        return event.kind.replace("_", " ").capitalize()
    details = dict(event.details)
    if event.kind == EventKind.MESSAGE_FORWARDED:
        details["forwarded"] = _forwarded_parts(details)
    if "new" in details and details["new"] in CaseStatus.__members__.values():
        status = CaseStatus(details["new"])
        details["new_label"] = status.staff_label if staff else status.label
    try:
        return template.format(**details)
    except (KeyError, IndexError):
        return template.split("{")[0].strip() or event.kind
