"""The case state machine: which staff action is allowed in which status, and what it
does. Views call `perform`; nothing else changes a case on a coordinator's behalf.

Every action is checked before anything is touched (an illegal one raises
`ActionRefused` with a message for people, and nothing is half-applied) and writes
exactly one `CaseEvent`. The case's `version` column makes a concurrent edit fail
with `CaseChanged` instead of silently overwriting another coordinator's work."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from service import limits
from service.cases import assignment, events, intake, messages, patient_mail, quotes, referrals, sla, trip
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.i18n import format_integer, gettext
from service.models import Case, Clinic, ClinicTreatment, PatientQuestion, Quote, Referral, Treatment, User
from service.models.priority import PRIORITIES
from service.models.roles import COORDINATOR, GRANTS
from service.routing import case_facts, clinic_facts, referred_clinic_slugs, unqualified_reason

S = CaseStatus

CLOSE_REASONS: Final[dict[str, str]] = {
    "booked": "Booked",
    "declined_by_patient": "Declined by the patient",
    "no_suitable_clinic": "No suitable clinic",
    "duplicate": "Duplicate",
    "spam": "Spam",
}
# Closing a case e-mails the patient, except for these (no answer to spam).
UNANNOUNCED_CLOSE_REASONS: Final = frozenset({"spam"})
# Every reason a closed case can carry: staff's, and the patient's own withdrawal.
CLOSED_REASON_LABELS: Final[dict[str, str]] = {**CLOSE_REASONS, quotes.WITHDRAWN_REASON: "Withdrawn by the patient"}
OPEN_STATUSES: Final = frozenset(S) - {S.CLOSED}
# A reopened case goes back to a person first.
REOPEN_STATUS: Final = S.NEEDS_ATTENTION
CHANGED_MESSAGE: Final = "This case changed since you opened it; reload to see the latest before acting."
# Actions after which a coordinator may have room for a case queued for lack of capacity.
FREES_CAPACITY: Final = frozenset({"close", "assign"})


class ActionRefused(ValueError):
    """The action is not allowed now; the message says why, for the coordinator.
    `errors` maps a form field to its message when the refusal is about one field."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class CaseChanged(RuntimeError):
    """Someone else changed the case since the coordinator loaded it."""


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    allowed: frozenset[CaseStatus]
    apply: Callable[..., Any]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _responded(case: Case) -> None:
    """The first thing staff do to a case stops its first-response clock."""
    if case.first_response_at is None:
        case.first_response_at = _now()
        sla.refresh_deadline(case)


def _assign(case: Case, user: User, *, assignee: User | None) -> None:
    if assignee is not None and (not assignee.active or assignee.role not in GRANTS[COORDINATOR]):
        raise ActionRefused(f"{assignee.email} cannot take cases.")
    if assignee is case.assignee or (assignee is not None and assignee.id == case.assignee_id):
        raise ActionRefused(
            f"The case is already assigned to {assignee.email}." if assignee else "The case is not assigned to anyone."
        )
    previous = case.assignee.email if case.assignee else None
    case.assignee = assignee
    if assignee is None:
        events.record_event(case, events.Actor.user(user), events.EventKind.UNASSIGNED, previous=previous)
    else:
        events.record_event(case, events.Actor.user(user), events.EventKind.ASSIGNED, assignee=assignee.email, previous=previous)


def _set_priority(case: Case, user: User, *, priority: str) -> None:
    if priority not in PRIORITIES:
        raise ActionRefused(f"Priority must be one of: {', '.join(PRIORITIES)}.")
    if priority == case.priority:
        raise ActionRefused(f"The priority is already {priority}.")
    old, case.priority = case.priority, priority
    events.record_event(case, events.Actor.user(user), events.EventKind.PRIORITY_SET, old=old, new=priority)


def _correct_treatment(case: Case, user: User, *, treatment_slug: str) -> None:
    treatment = db.session.scalar(select(Treatment).where(Treatment.slug == treatment_slug))
    if treatment is None:
        raise ActionRefused(f"Unknown treatment {treatment_slug!r}.")
    if treatment.id == case.treatment_id:
        raise ActionRefused(f"The case is already for {treatment.name}.")
    old = case.treatment
    case.treatment = treatment
    events.record_event(
        case, events.Actor.user(user), events.EventKind.TREATMENT_CORRECTED,
        old=old.slug, new=treatment.slug, old_name=old.name, new_name=treatment.name,
    )


def _request_info(case: Case, user: User, *, question: str) -> PatientQuestion:
    question = (question or "").strip()
    if not 10 <= len(question) <= 2000:
        raise ActionRefused("Write the question for the patient in 10 to 2,000 characters.")
    asked = PatientQuestion(case=case, asked_by=user, question=question, resume_status=case.status)
    db.session.add(asked)
    # The question's id for the e-mail, flushed before the case changes (one UPDATE of it).
    db.session.flush()
    case.sla_paused_since = _now()
    events.change_status(case, S.AWAITING_PATIENT, events.Actor.user(user), question=question)
    patient_mail.announce(case, patient_mail.PatientEvent.QUESTION, ref=asked.id)
    return asked


def _route(case: Case, user: User, *, clinic_slugs: list[str] | None = None, top_n: int = 3):
    """Refer to the top suggestions or to the clinics picked by hand. Unlike automatic
    routing, a staff action that finds no clinic is refused with the reason (the
    coordinator decides what next) instead of moving the case on its own."""
    if clinic_slugs is not None and not clinic_slugs:
        raise ActionRefused("Pick at least one clinic, or route to the suggestions.")
    if clinic_slugs is None:
        if not 1 <= top_n <= limits.MAX_TOP_N:
            raise ActionRefused(f"Route to between 1 and {limits.MAX_TOP_N} clinics at once.")
        if not referrals.suggestions(case):
            reason = unqualified_reason(
                case_facts(case), clinic_facts(db.session, case.treatment_id),
                exclude=referred_clinic_slugs(db.session, case.id),
            )
            raise ActionRefused(f"No clinic can take this case now: {reason}")
    try:
        return referrals.route(case, top_n, actor=events.Actor.user(user), only=clinic_slugs)
    except referrals.RoutingRefused as exc:
        raise ActionRefused(str(exc)) from exc


def _regenerate_paperwork(case: Case, user: User) -> None:
    """Render the confirmation and every dossier again (e.g. after a correction)."""
    intake.refresh_paperwork(case)
    events.record_event(case, events.Actor.user(user), events.EventKind.PAPERWORK_REQUESTED)


def _referral(case: Case, referral_id: int) -> Referral:
    referral = db.session.get(Referral, referral_id)
    if referral is None or referral.case_id != case.id:
        raise ActionRefused("That referral does not belong to this case.")
    return referral


def is_chosen_clinic(case: Case, referral: Referral) -> bool:
    """Whether `referral` is the one whose quote the patient chose. Reads the quote's
    referral by id: loading `case.chosen_quote` (a post-update relationship) mid-action
    would make a second UPDATE of the case, and a second version step."""
    if case.chosen_quote_id is None:
        return False
    return db.session.scalar(select(Quote.referral_id).where(Quote.id == case.chosen_quote_id)) == referral.id


def _release_contact(
    case: Case, user: User, *, referral_id: int, override: bool = False, reason: str = "",
) -> None:
    """The patient's contact details go to the clinic they chose; to any other clinic
    only with an explicit override and its reason on the record."""
    referral = _referral(case, referral_id)
    if referral.status != ReferralStatus.ACCEPTED:
        raise ActionRefused(f"{referral.clinic.name} has not accepted the case; contact details stay hidden.")
    if referral.contact_released_at is not None:
        raise ActionRefused(f"Contact details were already released to {referral.clinic.name}.")
    details: dict[str, Any] = {}
    if not is_chosen_clinic(case, referral):
        if not override:
            raise ActionRefused(
                f"{referral.clinic.name} is not the clinic the patient chose; to release the contact details "
                "anyway, tick the override and give the reason.",
                {"override": "Tick this to release to a clinic the patient did not choose."},
            )
        reason = (reason or "").strip()
        low, high = limits.RELEASE_OVERRIDE_REASON_MIN_CHARS, limits.RELEASE_OVERRIDE_REASON_MAX_CHARS
        if not low <= len(reason) <= high:
            message = f"Give the reason for the override in {low} to {high} characters (this one has {len(reason)})."
            raise ActionRefused(message, {"reason": message})
        details = {"override": True, "reason": reason}
    referral.contact_released_at = _now()
    events.record_event(
        case, events.Actor.user(user), events.EventKind.CONTACT_RELEASED, clinic=referral.clinic.slug,
        clinic_name=referral.clinic.name, **details,
    )


def _record_choice(case: Case, user: User, *, referral_id: int) -> None:
    referral = _referral(case, referral_id)
    if referral.status != ReferralStatus.ACCEPTED:
        raise ActionRefused(f"{referral.clinic.name} has not accepted the case, so it cannot be chosen.")
    chosen = quotes.current(referral)
    if chosen is not None:
        case.chosen_quote = chosen
        quotes.choice_work(case)
    events.change_status(case, S.CHOSEN, events.Actor.user(user), clinic=referral.clinic.slug, referral_id=referral.id)


def _close(case: Case, user: User, *, reason: str) -> None:
    if reason not in CLOSE_REASONS:
        raise ActionRefused(f"Choose a reason to close: {', '.join(CLOSE_REASONS.values())}.")
    case.closed_reason = reason
    _resume_clock(case)
    events.change_status(case, S.CLOSED, events.Actor.user(user), reason=reason)
    if reason not in UNANNOUNCED_CLOSE_REASONS:
        # The version names this closing: a case reopened and closed again is told again.
        patient_mail.announce(case, patient_mail.PatientEvent.CASE_CLOSED, ref=case.version)


def _book_travel(case: Case, user: User) -> None:
    """Chosen → travel booked: only with the outbound flight entered and the trip's
    checks passing (`trip.booking_problems`); the patient is e-mailed."""
    problems = trip.booking_problems(case, current_app.config["MAX_COMPANIONS"])
    if problems:
        raise ActionRefused("The travel cannot be marked booked yet: " + " ".join(problems))
    outbound = trip.active_leg(case, trip.LegKind.OUTBOUND_FLIGHT)
    events.change_status(case, S.TRAVEL_BOOKED, events.Actor.user(user), uid=outbound.uid)
    patient_mail.announce(case, patient_mail.PatientEvent.TRAVEL_BOOKED, ref=outbound.id)


def _start_treatment(case: Case, user: User) -> None:
    events.change_status(case, S.IN_TREATMENT, events.Actor.user(user))


def _mark_returned(case: Case, user: User) -> None:
    events.change_status(case, S.RETURNED, events.Actor.user(user))


def _reopen(case: Case, user: User) -> None:
    case.closed_reason = None
    events.change_status(case, REOPEN_STATUS, events.Actor.user(user))


def _add_note(case: Case, user: User, *, body: str) -> None:
    body = (body or "").strip()
    if not 1 <= len(body) <= 5000:
        raise ActionRefused("A note needs 1 to 5,000 characters.")
    events.record_event(case, events.Actor.user(user), events.EventKind.NOTE, body=body)


def _resume_clock(case: Case) -> None:
    if case.sla_paused_since is not None:
        case.sla_paused_seconds += int((_now() - case.sla_paused_since).total_seconds())
        case.sla_paused_since = None


_WORKING = frozenset({S.SUBMITTED, S.NEEDS_ATTENTION, S.ROUTED, S.AWAITING_PATIENT})

ACTIONS: Final[dict[str, Action]] = {
    a.name: a
    for a in (
        Action("assign", "Assign", OPEN_STATUSES, _assign),
        Action("set_priority", "Set priority", OPEN_STATUSES, _set_priority),
        Action("correct_treatment", "Correct the treatment", _WORKING, _correct_treatment),
        Action("request_info", "Ask the patient", frozenset({S.SUBMITTED, S.NEEDS_ATTENTION, S.ROUTED}), _request_info),
        Action("route", "Route to clinics", frozenset({S.SUBMITTED, S.NEEDS_ATTENTION, S.ROUTED}), _route),
        Action("regenerate_paperwork", "Regenerate paperwork", OPEN_STATUSES, _regenerate_paperwork),
        Action("release_contact", "Release contact details", frozenset({S.ROUTED, S.CHOSEN, S.TRAVEL_BOOKED, S.IN_TREATMENT}), _release_contact),
        Action("record_choice", "Record the patient's choice", frozenset({S.ROUTED}), _record_choice),
        Action("book_travel", "Mark the travel booked", frozenset({S.CHOSEN}), _book_travel),
        Action("start_treatment", "Mark the patient in treatment", frozenset({S.TRAVEL_BOOKED}), _start_treatment),
        Action("mark_returned", "Mark the patient returned home", frozenset({S.IN_TREATMENT}), _mark_returned),
        Action("close", "Close", OPEN_STATUSES, _close),
        Action("reopen", "Reopen", frozenset({S.CLOSED}), _reopen),
        Action("add_note", "Add an internal note", frozenset(S), _add_note),
    )
}


def allowed_actions(case: Case) -> list[Action]:
    return [a for a in ACTIONS.values() if case.status in a.allowed]


def perform(case: Case, action: str, user: User, *, expected_version: int | None = None, **params: Any) -> Any:
    """Apply one staff action to the case and flush it; the caller commits. Raises
    `ActionRefused` (not allowed now, or bad input) or `CaseChanged` (stale form, or
    another transaction changed the row meanwhile); after either, roll back.

    Every action bumps the case's version, even one that only touches a referral or
    adds a note: a coordinator acting on a page older than the latest action is asked
    to reload rather than act on what they have not seen."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise ActionRefused(f"Unknown action {action!r}.")
    if expected_version is not None and expected_version != case.version:
        raise CaseChanged(CHANGED_MESSAGE)
    if case.status not in spec.allowed:
        raise ActionRefused(f"{spec.label} is not possible while the case is {CaseStatus(case.status).label.lower()}.")
    try:
        # One UPDATE of the case per action (so one version step): no flush half-way
        # when an action reads something lazily after changing the case.
        with db.session.no_autoflush:
            result = spec.apply(case, user, **params)
            if action != "add_note":
                _responded(case)
            case.updated_at = _now()
        db.session.flush()
        if action in FREES_CAPACITY:
            # Reads the loads just flushed; assigns other cases only (each with its own event).
            assignment.capacity_freed()
    except StaleDataError as exc:
        raise CaseChanged(CHANGED_MESSAGE) from exc
    return result


def record_view(case: Case, user: User) -> None:
    """Opening a case file shows health data: who looked, and when, goes on the timeline."""
    events.record_event(case, events.Actor.user(user), events.EventKind.CASE_VIEWED)


def record_file_opened(case: Case, user: User, filename: str) -> None:
    """Taking a copy of a patient's file (or a generated document) is recorded too."""
    events.record_event(case, events.Actor.user(user), events.EventKind.FILE_OPENED, file=filename)


def patient_answered(case: Case, question: PatientQuestion, answer: str) -> None:
    """The patient answered from the status page: the clock resumes, the case returns
    to where it was when the question was asked."""
    if case.status != S.AWAITING_PATIENT or question.answered_at is not None or question.case_id != case.id:
        raise ActionRefused(gettext("There is no open question on this request."))
    answer = (answer or "").strip()
    if not 1 <= len(answer) <= limits.ANSWER_MAX_CHARS:
        raise ActionRefused(gettext("Write your answer in 1 to %(max)s characters.",
                                    max=format_integer(limits.ANSWER_MAX_CHARS)))
    question.answer = answer
    question.answered_at = _now()
    _resume_clock(case)
    events.change_status(case, CaseStatus(question.resume_status), events.Actor.PATIENT, question_id=question.id)
    messages.announce_to_assignee(case, question_id=question.id)


def open_question(case: Case) -> PatientQuestion | None:
    return db.session.scalar(
        select(PatientQuestion)
        .where(PatientQuestion.case_id == case.id, PatientQuestion.answered_at.is_(None))
        .order_by(PatientQuestion.id.desc())
    )


def clinics_for_manual_routing(case: Case) -> list[Clinic]:
    """Clinics offering the case's treatment, for routing by hand beside the suggestions."""
    return list(db.session.scalars(
        select(Clinic).join(ClinicTreatment).where(ClinicTreatment.treatment_id == case.treatment_id).order_by(Clinic.name)
    ))
