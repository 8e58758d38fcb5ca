"""The case timeline. Every status change goes through `change_status`, so no
change can happen without its audit event."""
from __future__ import annotations

from typing import Any

from service.cases.status import CaseStatus
from service.extensions import db
from service.i18n import gettext, ngettext
from service.models import Case, CaseEvent

PATIENT = "patient"
SYSTEM = "system"


def record_event(case: Case, actor: str, kind: str, **details: Any) -> CaseEvent:
    event = CaseEvent(case=case, actor=actor, kind=kind, details=details)
    db.session.add(event)
    return event


def change_status(case: Case, new: CaseStatus, actor: str, **details: Any) -> CaseEvent:
    old = case.status
    case.status = new
    return record_event(case, actor, "status_changed", old=old, new=str(new), **details)


# What the patient's status page and API show; the rest is for staff. (The patient's
# wording of these is `_for_patient`; `_DESCRIPTIONS` is the staff console's.)
PATIENT_VISIBLE = frozenset({
    "case_submitted", "files_added", "files_not_stored", "status_changed",
    "clinic_quoted", "quote_revised", "revision_accepted", "erasure_requested",
})


def patient_timeline(case: Case) -> list[CaseEvent]:
    return [e for e in case.events if e.kind in PATIENT_VISIBLE]


_DESCRIPTIONS: dict[str, str] = {
    "case_submitted": "Request received",
    "files_added": "{count} file(s) added",
    "files_not_stored": "{count} file(s) could not be stored; they can be added again from this page",
    "status_changed": "Status: {new_label}",
    "job_failed": "Background job {job} failed: {error}",
    "job_retrying": "Background job {job} failed and will be tried again: {error}",
    "job_retried": "Background job {job} retried",
    "case_viewed": "Case file viewed",
    "file_opened": "File opened: {file}",
    "assigned": "Assigned to {assignee}",
    "unassigned": "Unassigned (was {previous})",
    "priority_set": "Priority set to {new} (was {old})",
    "treatment_corrected": "Treatment corrected from {old_name} to {new_name}",
    "note": "Note: {body}",
    "contact_released": "Patient's contact details released to {clinic_name}",
    "paperwork_requested": "Paperwork regeneration requested",
    "clinic_quoted": "{clinic_name} sent a quote",
    "clinic_declined": "{clinic_name} declined: {reason}",
    "quote_revised": "{clinic_name} revised its quote (version {version})",
    "revision_accepted": "Revised quote from {clinic_name} accepted",
    "clinic_question": "Question from {clinic_name}: {question}",
    "erasure_requested": "Erasure of personal data requested",
    "data_erased": "Personal data erased",
}


def _for_patient(kind: str, details: dict[str, Any]) -> str | None:
    """The patient's wording of what they see on their timeline, in the page's language
    (English for the API); None when the event lacks what the sentence needs."""
    count, clinic = details.get("count"), details.get("clinic_name")
    if kind == "case_submitted":
        return gettext("Request received")
    if kind == "files_added" and isinstance(count, int):
        return ngettext("%(num)d file added", "%(num)d files added", count)
    if kind == "files_not_stored" and isinstance(count, int):
        return ngettext(
            "%(num)d file could not be stored; it can be added again from this page",
            "%(num)d files could not be stored; they can be added again from this page",
            count,
        )
    if kind == "status_changed" and details.get("new") in CaseStatus.__members__.values():
        return gettext("Status: %(status)s", status=CaseStatus(details["new"]).label)
    if kind == "clinic_quoted" and clinic:
        return gettext("%(clinic)s sent a quote", clinic=clinic)
    if kind == "quote_revised" and clinic:
        return gettext("%(clinic)s revised its quote (version %(version)s)",
                       clinic=clinic, version=details.get("version", ""))
    if kind == "revision_accepted" and clinic:
        return gettext("Revised quote from %(clinic)s accepted", clinic=clinic)
    if kind == "erasure_requested":
        return gettext("Erasure of personal data requested")
    return None


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
    if "new" in details and details["new"] in CaseStatus.__members__.values():
        status = CaseStatus(details["new"])
        details["new_label"] = status.staff_label if staff else status.label
    try:
        return template.format(**details)
    except (KeyError, IndexError):
        return template.split("{")[0].strip() or event.kind
