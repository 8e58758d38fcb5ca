"""Service-level timers, defined once: how long staff may take to first respond to a
new case, and how long a clinic may take to answer a referral.

The clocks pause while the case waits on the patient (staff asked a question): the
workflow sets `case.sla_paused_since` when asking and, when the patient answers, adds
the pause to `case.sla_paused_seconds`. So a deadline is

    start + limit + time paused (+ now - paused_since while still paused)

and no deadline passes while paused. A clinic's clock counts only the pauses after
its referral was made (the answered questions asked since then, and the current
pause), so a question answered before routing does not give the clinic extra days.

The rules exist once, as plain functions over loaded objects. The queue filters, sorts
and paginates on their result stored in `cases.sla_due_at` (indexed), which
`refresh_deadline` sets whenever something the clocks read changes;
`tests/service/cases/test_sla.py` checks that the stored deadline and the plain
functions agree after every status change, pause and answer.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from sqlalchemy import Float, and_, case as sql_case, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import Case, PatientQuestion, Referral


@dataclass(frozen=True)
class Clock:
    key: str
    label: str
    limit: timedelta


FIRST_RESPONSE: Final = Clock("first_response", "First staff response", timedelta(hours=24))
CLINIC_ANSWER: Final = Clock("clinic_answer", "Clinic answer", timedelta(hours=72))
CLOCKS: Final = (FIRST_RESPONSE, CLINIC_ANSWER)

# While the patient has chosen (or the case is closed) nobody is chased for an answer.
CLINIC_CLOCK_STATUSES: Final = frozenset(
    {CaseStatus.ROUTED, CaseStatus.NEEDS_ATTENTION, CaseStatus.AWAITING_PATIENT}
)

Pause = tuple[datetime, datetime]
"""A finished pause: when the question was asked, when the patient answered."""


# ---------------------------------------------------------------- plain functions


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _due(start: datetime, limit: timedelta, paused: timedelta, paused_since: datetime | None, now: datetime) -> datetime:
    due = start + limit + paused
    if paused_since is not None:
        due += now - max(paused_since, start)
    return due


def first_response_due(case: Case, now: datetime) -> datetime | None:
    """When staff must have first acted on the case; None once they have (or it is closed)."""
    if case.first_response_at is not None or case.status == CaseStatus.CLOSED:
        return None
    paused = timedelta(seconds=case.sla_paused_seconds or 0)
    return _due(case.created_at, FIRST_RESPONSE.limit, paused, case.sla_paused_since, now)


def referral_due(referral: Referral, case: Case, pauses: Iterable[Pause], now: datetime) -> datetime | None:
    """When the clinic must have answered; None once it has, or when nobody waits for it."""
    if (
        referral.status != ReferralStatus.PENDING
        or referral.responded_at is not None
        or case.status not in CLINIC_CLOCK_STATUSES
    ):
        return None
    paused = sum(
        (answered - asked for asked, answered in pauses if asked >= referral.created_at), timedelta()
    )
    return _due(referral.created_at, CLINIC_ANSWER.limit, paused, case.sla_paused_since, now)


def overdue_referrals(
    case: Case, referrals: Iterable[Referral], pauses: Sequence[Pause], now: datetime
) -> list[Referral]:
    """The referrals whose clinic has not answered in time."""
    return [r for r in referrals if (due := referral_due(r, case, pauses, now)) is not None and due < now]


def is_overdue(case: Case, now: datetime, *, referrals: Iterable[Referral], pauses: Sequence[Pause] = ()) -> bool:
    """Any clock of the case past its deadline. `referrals` is required so that a
    caller cannot forget the clinic clocks; `case_sla` loads everything itself."""
    due = first_response_due(case, now)
    return (due is not None and due < now) or bool(overdue_referrals(case, referrals, pauses, now))


@dataclass(frozen=True)
class Deadline:
    clock: Clock
    due: datetime
    referral: Referral | None = None

    def overdue(self, now: datetime) -> bool:
        return self.due < now


@dataclass(frozen=True)
class CaseSla:
    """Every running clock of a case at `now`, soonest first (for the case file and dashboard)."""

    now: datetime
    paused: bool
    deadlines: list[Deadline] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        return any(d.overdue(self.now) for d in self.deadlines)

    @property
    def next_due(self) -> datetime | None:
        return self.deadlines[0].due if self.deadlines else None

    @property
    def overdue_deadlines(self) -> list[Deadline]:
        return [d for d in self.deadlines if d.overdue(self.now)]


def finished_pauses(case: Case) -> list[Pause]:
    return [
        (asked, answered)
        for asked, answered in db.session.execute(
            select(PatientQuestion.asked_at, PatientQuestion.answered_at).where(
                PatientQuestion.case_id == case.id, PatientQuestion.answered_at.is_not(None)
            )
        )
    ]


def case_sla(case: Case, now: datetime | None = None) -> CaseSla:
    """Load the case's referrals and pauses and evaluate every clock."""
    now = now or _now()
    pauses = finished_pauses(case)
    deadlines: list[Deadline] = []
    if (due := first_response_due(case, now)) is not None:
        deadlines.append(Deadline(FIRST_RESPONSE, due))
    for referral in db.session.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.id)):
        if (due := referral_due(referral, case, pauses, now)) is not None:
            deadlines.append(Deadline(CLINIC_ANSWER, due, referral))
    deadlines.sort(key=lambda d: d.due)
    return CaseSla(now=now, paused=case.sla_paused_since is not None, deadlines=deadlines)


# ---------------------------------------------------------------- stored deadline


def stored_due(case: Case, referrals: Iterable[Referral], pauses: Sequence[Pause]) -> datetime | None:
    """What `cases.sla_due_at` holds: the soonest running deadline by the plain functions
    above, evaluated at the start of the running pause if there is one. While paused
    every running deadline moves with the clock (`_due` is `now` plus a constant), so the
    deadline at any later moment is this value plus the pause so far (`due_at`)."""
    at = case.sla_paused_since or case.created_at
    deadlines = [due for due in (first_response_due(case, at),
                                 *(referral_due(r, case, pauses, at) for r in referrals)) if due is not None]
    return min(deadlines, default=None)


def _case_pauses(case: Case) -> list[Pause]:
    """The finished pauses as the session holds them (an answer given in this
    transaction and not yet flushed counts)."""
    questions = db.session.scalars(select(PatientQuestion).where(PatientQuestion.case_id == case.id))
    return [(q.asked_at, q.answered_at) for q in questions if q.answered_at is not None]


def refresh_deadline(case: Case) -> None:
    """Store the case's soonest deadline again. Called by whatever changes what the
    clocks read: the status (`events.change_status`), a pause or its end, the first
    response, a referral sent or answered. Reads without flushing, so an action still
    makes one UPDATE of the case; nothing is read while no clinic clock can run."""
    if case.created_at is None:
        return  # not stamped yet; intake stamps it before calling this
    referrals: list[Referral] = []
    pauses: list[Pause] = []
    with db.session.no_autoflush:
        if case.status in CLINIC_CLOCK_STATUSES and case.id is not None:
            referrals = list(db.session.scalars(select(Referral).where(Referral.case_id == case.id)))
            if any(r.status == ReferralStatus.PENDING and r.responded_at is None for r in referrals):
                pauses = _case_pauses(case)
    due = stored_due(case, referrals, pauses)
    if due != case.sla_due_at:
        case.sla_due_at = due


def due_at(case: Case, now: datetime) -> datetime | None:
    """The case's soonest deadline at `now`, from the stored column (equal to
    `case_sla(case, now).next_due`)."""
    if case.sla_due_at is None:
        return None
    if case.sla_paused_since is not None:
        return case.sla_due_at + (now - case.sla_paused_since)
    return case.sla_due_at


# ---------------------------------------------------------------- SQL over the stored deadline


class epoch(FunctionElement[float]):
    """Seconds since 1970 of a timestamp column, on SQLite and PostgreSQL alike."""

    type = Float()
    name = "epoch"
    inherit_cache = True


@compiles(epoch)
def _epoch_default(element: epoch, compiler: Any, **kw: Any) -> str:
    # date_part() gives double precision; EXTRACT gives numeric, many times slower to add.
    return f"date_part('epoch', {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: Any, **kw: Any) -> str:
    # SQLAlchemy stores UTC timestamps on SQLite as ISO text, which julianday() reads.
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL condition on `cases`: some clock of the case is past its deadline at `now`.
    Running: the stored deadline is before `now` (a range on its index). Paused: the
    deadline moves with the clock, so the case is late only if it was when the pause
    began (and that pause began before `now`)."""
    cases = Case.__table__.c
    return and_(
        cases.sla_due_at < now,
        or_(cases.sla_paused_since.is_(None), cases.sla_due_at < cases.sla_paused_since),
    )


def due_sort_key(now: datetime) -> ColumnElement[float]:
    """The deadline at `now` in epoch seconds, NULL when no clock runs (the queue's
    "due soonest" order): the stored value, plus the pause so far while paused."""
    cases = Case.__table__.c
    running_pause = sql_case(
        (cases.sla_paused_since.is_not(None), literal(now.timestamp(), Float) - epoch(cases.sla_paused_since)),
        else_=0.0,
    )
    return epoch(cases.sla_due_at) + running_pause
