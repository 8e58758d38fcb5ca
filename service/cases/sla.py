"""Service-level timers, defined once: how long staff may take to first respond to a
new case, and how long a clinic may take to answer a referral.

The clocks pause while the case waits on the patient (staff asked a question): the
workflow sets `case.sla_paused_since` when asking and, when the patient answers, adds
the pause to `case.sla_paused_seconds`. So a deadline is

    start + limit + time paused (+ now - paused_since while still paused)

and no deadline passes while paused. A clinic's clock counts only the pauses after
its referral was made (the answered questions asked since then, and the current
pause), so a question answered before routing does not give the clinic extra days.

The same rules exist twice on purpose, in one place: as plain functions over loaded
objects (the case file, tests) and as SQL expressions (the queue filters, sorts and
paginates on them). `tests/service/cases/test_sla.py` checks that both agree.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from sqlalchemy import Float, and_, case as sql_case, func, literal, select
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


# ---------------------------------------------------------------- SQL


class epoch(FunctionElement[float]):
    """Seconds since 1970 of a timestamp column, on SQLite and PostgreSQL alike."""

    type = Float()
    name = "epoch"
    inherit_cache = True


@compiles(epoch)
def _epoch_default(element: epoch, compiler: Any, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: Any, **kw: Any) -> str:
    # SQLAlchemy stores UTC timestamps on SQLite as ISO text, which julianday() reads.
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


def _seconds(value: datetime) -> ColumnElement[float]:
    return literal(value.timestamp(), Float)


def _first_response_due_sql(now: datetime) -> ColumnElement[float]:
    """Deadline of the first-response clock in epoch seconds, NULL when not running."""
    cases = Case.__table__.c
    running_pause = sql_case(
        (cases.sla_paused_since.is_not(None), _seconds(now) - epoch(cases.sla_paused_since)), else_=0.0
    )
    due = epoch(cases.created_at) + FIRST_RESPONSE.limit.total_seconds() + func.coalesce(cases.sla_paused_seconds, 0) + running_pause
    return sql_case(
        (and_(cases.first_response_at.is_(None), cases.status != CaseStatus.CLOSED.value), due), else_=None
    )


def _referral_running() -> ColumnElement[bool]:
    referrals, cases = Referral.__table__.c, Case.__table__.c
    return and_(
        referrals.case_id == cases.id,
        referrals.status == ReferralStatus.PENDING.value,
        referrals.responded_at.is_(None),
        cases.status.in_([s.value for s in CLINIC_CLOCK_STATUSES]),
    )


def _referral_due_sql(now: datetime) -> ColumnElement[float]:
    """Deadline of a referral's clinic-answer clock in epoch seconds (per referrals row)."""
    referrals, cases = Referral.__table__, Case.__table__
    questions = PatientQuestion.__table__
    finished = (
        select(func.coalesce(func.sum(epoch(questions.c.answered_at) - epoch(questions.c.asked_at)), 0.0))
        .where(
            questions.c.case_id == referrals.c.case_id,
            questions.c.answered_at.is_not(None),
            questions.c.asked_at >= referrals.c.created_at,
        )
        .correlate(referrals)
        .scalar_subquery()
    )
    paused_since = cases.c.sla_paused_since
    running_pause = sql_case(
        (
            paused_since.is_not(None),
            _seconds(now) - sql_case(
                (paused_since > referrals.c.created_at, epoch(paused_since)), else_=epoch(referrals.c.created_at)
            ),
        ),
        else_=0.0,
    )
    return epoch(referrals.c.created_at) + CLINIC_ANSWER.limit.total_seconds() + finished + running_pause


def next_due_sql(now: datetime) -> ColumnElement[float]:
    """The soonest running deadline of the case in epoch seconds (NULL when no clock
    runs), as one correlated subquery over its referrals: an aggregate without GROUP BY
    yields one row even when the case has no referral."""
    first = _first_response_due_sql(now)
    clinic = func.min(_referral_due_sql(now))
    soonest = sql_case(
        (first.is_(None), clinic),
        (clinic.is_(None), first),
        (clinic < first, clinic),
        else_=first,
    )
    return select(soonest).where(_referral_running()).correlate(Case.__table__).scalar_subquery()


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL condition on `cases`: some clock of the case is past its deadline at `now`."""
    return next_due_sql(now) < _seconds(now)


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), timezone.utc)
