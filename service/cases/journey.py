"""Where the patient's request stands and what, if anything, the patient must do now:
the status page's headline, its stepper and its action box, and the API's `step` and
`next_action`. Derived on every read from the case's status, its open question, its
quotes and the choice, never stored, so it cannot drift from what the page shows below.

Every text is taken when `journey()` runs, in the current request's language
(`service.i18n`): the patient's on the status page, English for the API. The step and
action codes are stable API values."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from enum import StrEnum
from typing import Final

from flask import current_app
from sqlalchemy import func, select

from service.cases import quotes, workflow
from service.cases.status import CaseStatus
from service.extensions import db
from service.i18n import N_, gettext, ngettext
from service.models import Case, Quote, Referral

# Closed for this reason (a key of `workflow.CLOSE_REASONS`), every step is done.
COMPLETED_REASON: Final = "booked"


class Step(StrEnum):
    """The patient's journey, in order."""

    RECEIVED = "received"
    REVIEWING = "reviewing"
    CLINICS_ANSWERING = "clinics_answering"
    CHOOSE = "choose"
    TRIP = "trip"
    TREATMENT = "treatment"

    @property
    def label(self) -> str:
        return gettext(_STEP_LABELS[self])


_STEP_LABELS: dict[Step, str] = {
    Step.RECEIVED: N_("Request received"),
    Step.REVIEWING: N_("Reviewing"),
    Step.CLINICS_ANSWERING: N_("Clinics answering"),
    Step.CHOOSE: N_("Choose a clinic"),
    Step.TRIP: N_("Trip"),
    Step.TREATMENT: N_("Treatment"),
}
_ORDER: Final[list[Step]] = list(Step)


class Progress(StrEnum):
    DONE = "done"
    CURRENT = "current"
    TODO = "todo"


class ActionCode(StrEnum):
    """What the patient must do now; the request waits on them until they do."""

    ANSWER_QUESTION = "answer_question"
    CHOOSE_QUOTE = "choose_quote"
    ACCEPT_REVISION = "accept_revision"


@dataclass(frozen=True)
class StepState:
    step: Step
    progress: Progress
    label: str


@dataclass(frozen=True)
class NextAction:
    code: ActionCode
    text: str


@dataclass(frozen=True)
class Journey:
    headline: str
    summary: str
    steps: list[StepState]
    current: Step | None
    next_action: NextAction | None


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _working_status(case: Case) -> CaseStatus:
    """The status the case works in: while a question waits, the one it returns to."""
    status = case.status_enum
    if status == CaseStatus.AWAITING_PATIENT:
        question = workflow.open_question(case)
        return CaseStatus(question.resume_status) if question is not None else CaseStatus.NEEDS_ATTENTION
    return status


def _choosable(case: Case, today: date) -> list[Quote]:
    """The quotes the patient can choose among now (counting and unexpired)."""
    if case.status not in quotes.CHOOSABLE or case.chosen_quote_id is not None:
        return []
    return [quote for _referral, quote in quotes.comparison(case, today) if quote.valid_until >= today]


def _revision(case: Case, today: date) -> Quote | None:
    """A revised quote the patient can accept: of the chosen clinic once there is a choice."""
    if case.status == CaseStatus.CLOSED:
        return None
    if case.chosen_quote is not None:
        return quotes.pending_revision(case.chosen_quote.referral)
    if case.status not in quotes.CHOOSABLE:
        return None
    for referral, _quote in quotes.comparison(case, today):
        revision = quotes.pending_revision(referral)
        if revision is not None:
            return revision
    return None


def _referred(case: Case) -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(Referral).where(Referral.case_id == case.id)))


def _position(case: Case, status: CaseStatus, choosable: list[Quote]) -> Step:
    """The step the case is at (for a closed case: the one it had reached)."""
    if status in (CaseStatus.IN_TREATMENT, CaseStatus.RETURNED):
        return Step.TREATMENT
    if status in (CaseStatus.CHOSEN, CaseStatus.TRAVEL_BOOKED) or case.chosen_quote_id is not None:
        return Step.TRIP
    if choosable:
        return Step.CHOOSE
    if status == CaseStatus.ROUTED:
        return Step.CLINICS_ANSWERING
    if status == CaseStatus.SUBMITTED:
        return Step.RECEIVED
    if status == CaseStatus.CLOSED:
        return Step.CLINICS_ANSWERING if _referred(case) else Step.REVIEWING
    return Step.REVIEWING


def _steps(current: Step, *, closed: bool, completed: bool) -> list[StepState]:
    """Done before the current step, todo after it; a closed case has no current step."""
    at = _ORDER.index(current)
    states = []
    for index, step in enumerate(_ORDER):
        if completed or index < at:
            progress = Progress.DONE
        elif index == at and not closed:
            progress = Progress.CURRENT
        else:
            progress = Progress.TODO
        states.append(StepState(step, progress, step.label))
    return states


def _next_action(case: Case, choosable: list[Quote], today: date) -> NextAction | None:
    """The one thing the patient must do now, the most pressing first."""
    if case.status == CaseStatus.AWAITING_PATIENT and workflow.open_question(case) is not None:
        return NextAction(ActionCode.ANSWER_QUESTION, gettext("Answer the coordinator's question"))
    if _revision(case, today) is not None:
        return NextAction(ActionCode.ACCEPT_REVISION, gettext("Accept or decline the revised quote"))
    if choosable:
        return NextAction(ActionCode.CHOOSE_QUOTE, ngettext(
            "%(num)d quote is waiting: compare and choose",
            "%(num)d quotes are waiting: compare and choose", len(choosable),
        ))
    return None


_HEADLINE_STATUS: dict[Step, CaseStatus] = {
    Step.RECEIVED: CaseStatus.SUBMITTED,
    Step.REVIEWING: CaseStatus.NEEDS_ATTENTION,
    Step.CLINICS_ANSWERING: CaseStatus.ROUTED,
    Step.TRIP: CaseStatus.CHOSEN,
}


# Statuses whose own label and next step head the page.
_OWN_HEADLINE: Final = frozenset({CaseStatus.CLOSED, CaseStatus.TRAVEL_BOOKED, CaseStatus.IN_TREATMENT,
                                  CaseStatus.RETURNED})


def _headline(case: Case, current: Step, action: NextAction | None) -> tuple[str, str]:
    if case.status in _OWN_HEADLINE:
        status = case.status_enum
    elif action is not None and action.code == ActionCode.ANSWER_QUESTION:
        status = CaseStatus.AWAITING_PATIENT
    elif current == Step.CHOOSE:
        return (gettext("Quotes ready"),
                gettext("Compare the clinics' quotes below and choose the one you want; "
                        "your coordinator then arranges the trip with that clinic."))
    else:
        status = _HEADLINE_STATUS[current]
    return status.label, status.next_step_when(current_app.config["AUTO_ROUTE"])


def journey(case: Case, today: date | None = None) -> Journey:
    """The headline, the stepper and the action box of the case, in the page's language."""
    today = today or _today()
    closed = case.status == CaseStatus.CLOSED
    choosable = _choosable(case, today)
    current = _position(case, _working_status(case), choosable)
    action = None if closed else _next_action(case, choosable, today)
    headline, summary = _headline(case, current, action)
    # Home again, or closed as booked: every step is done.
    completed = case.status == CaseStatus.RETURNED or (closed and case.closed_reason == COMPLETED_REASON)
    return Journey(
        headline=headline, summary=summary,
        steps=_steps(current, closed=closed, completed=completed),
        current=None if closed else current,
        next_action=action,
    )
