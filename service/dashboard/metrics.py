"""The dashboard's figures: plain functions over a session and a `Period`.

Every figure is about the requests received in the period (by `Case.created_at`),
except the clinics' answers, which are about the referrals sent in it. Every figure is
aggregated in SQL (GROUP BY, and window functions for the medians and percentiles), so
the page reads a few small results whatever the number of cases; the expressions are
written to give the same answers on SQLite and PostgreSQL (`median` and `percentile`
below are the definitions they follow). All times are UTC."""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from typing import Any

from sqlalchemy import Date, Float, case as sql_case, distinct, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from service.cases.sla import epoch
from service.cases.status import CaseStatus, ReferralStatus
from service.cases.workflow import CLOSE_REASONS
from service.dashboard.period import Period
from service.models import Case, Clinic, Referral, Treatment

BOOKED: Final = "booked"  # a key of CLOSE_REASONS
# A clinic was chosen, and the trip may have moved on since.
_PAST_CHOICE: Final = frozenset({CaseStatus.CHOSEN, CaseStatus.TRAVEL_BOOKED, CaseStatus.IN_TREATMENT,
                                 CaseStatus.RETURNED})
# The travel is booked: the case is on its trip, or closed as booked.
_ON_THE_TRIP: Final = frozenset({CaseStatus.TRAVEL_BOOKED, CaseStatus.IN_TREATMENT, CaseStatus.RETURNED})

# Time to first response, in hours: (upper bound, exclusive; label). The last is open.
RESPONSE_BUCKETS: Final[tuple[tuple[float, str], ...]] = (
    (1, "under 1 h"),
    (4, "1–4 h"),
    (8, "4–8 h"),
    (24, "8–24 h"),
    (48, "24–48 h"),
    (72, "48–72 h"),
    (math.inf, "72 h or more"),
)
ANSWERS: Final = (ReferralStatus.ACCEPTED, ReferralStatus.DECLINED)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `pct`% of the values
    at or below it, so it is always a time that really happened."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _in_period(column, period: Period):
    start, end = period.bounds
    return (column >= start) & (column < end)


class utc_day(FunctionElement[date]):
    """The UTC calendar day of a timestamp column, on SQLite and PostgreSQL alike."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day_default(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    # Timestamps are stored in UTC as ISO text there.
    return f"date({compiler.process(element.clauses, **kw)})"


def _seconds_between(start: Any, end: Any) -> ColumnElement[float]:
    """`end - start` in seconds, never below 0, rounded to the millisecond (SQLite's
    julianday arithmetic is off by microseconds; whole seconds stay exact)."""
    seconds = func.round((epoch(end) - epoch(start)) * 1000.0, type_=Float) / 1000.0
    return sql_case((seconds < 0, 0.0), else_=seconds)


@dataclass(frozen=True)
class DailyCounts:
    """Requests received per day, split by the status each case is in now."""

    days: list[date]
    statuses: tuple[CaseStatus, ...]
    counts: dict[date, dict[CaseStatus, int]]

    @property
    def total(self) -> int:
        return sum(sum(by_status.values()) for by_status in self.counts.values())

    def day_total(self, day: date) -> int:
        return sum(self.counts[day].values())


CaseGroup = tuple[date, str, str | None, bool, int]  # (day, status, closed reason, referred, count)


def case_groups(session: Session, period: Period) -> list[CaseGroup]:
    """The period's requests counted by (UTC day, status, closed reason, referred or not):
    one scan of the cases that both the per-day chart and the funnel are read from."""
    day = utc_day(Case.created_at)
    referred = Case.id.in_(select(Referral.case_id))
    return [
        (created_on, status, closed_reason, bool(was_referred), int(n))
        for created_on, status, closed_reason, was_referred, n in session.execute(
            select(day, Case.status, Case.closed_reason, referred, func.count(Case.id))
            .where(_in_period(Case.created_at, period))
            .group_by(day, Case.status, Case.closed_reason, referred)
        )
    ]


def cases_per_day(session: Session, period: Period, groups: list[CaseGroup] | None = None) -> DailyCounts:
    counts: dict[date, dict[CaseStatus, int]] = {day: {s: 0 for s in CaseStatus} for day in period.days}
    for created_on, status, _reason, _referred, n in case_groups(session, period) if groups is None else groups:
        counts[created_on][CaseStatus(status)] += n
    return DailyCounts(period.days, tuple(CaseStatus), counts)


def _bucket(seconds: ColumnElement[float]) -> ColumnElement[int]:
    """The index in RESPONSE_BUCKETS of a time in seconds."""
    return sql_case(
        *((seconds < bound * 3600, i) for i, (bound, _) in enumerate(RESPONSE_BUCKETS) if bound != math.inf),
        else_=len(RESPONSE_BUCKETS) - 1,
    )


def _ranks(n: int) -> dict[str, tuple[int, ...]]:
    """Which 1-based positions in the sorted values make the median (one or the two
    middle ones) and the nearest-rank 90th percentile."""
    return {"median": tuple(sorted({(n + 1) // 2, (n + 2) // 2})), "p90": (max(1, math.ceil(0.9 * n)),)}


def _picked(values: dict[int, float], ranks: tuple[int, ...]) -> float | None:
    found = [values[r] for r in ranks if r in values]
    return sum(found) / len(found) if found else None


@dataclass(frozen=True)
class ResponseTimes:
    """Submission to the first staff action, for the requests that have had one."""

    responded: int
    waiting: int  # requests in the period nobody has acted on yet
    median: float | None = None
    p90: float | None = None
    by_bucket: tuple[int, ...] = (0,) * len(RESPONSE_BUCKETS)

    @property
    def histogram(self) -> list[tuple[str, int]]:
        return [(label, n) for (_, label), n in zip(RESPONSE_BUCKETS, self.by_bucket)]


def first_response(session: Session, period: Period) -> ResponseTimes:
    """Counts per bucket in one GROUP BY; the median and 90th percentile picked by
    rank in SQL (a window over the responded requests), so only those rows come back."""
    in_period = _in_period(Case.created_at, period)
    seconds = _seconds_between(Case.created_at, Case.first_response_at)
    # Each case's seconds once, in a subquery the planner keeps as written (OFFSET 0):
    # merged into the outer query, the bucket's comparisons would each repeat the
    # arithmetic, up to fourteen times per case.
    timed = select(seconds.label("seconds")).where(in_period).offset(0).subquery()
    bucket = sql_case((timed.c.seconds.is_(None), -1), else_=_bucket(timed.c.seconds))
    by_bucket = [0] * len(RESPONSE_BUCKETS)
    waiting = 0
    for index, n in session.execute(select(bucket, func.count()).select_from(timed).group_by(bucket)):
        if index == -1:
            waiting = n
        else:
            by_bucket[index] = n
    responded = sum(by_bucket)
    if not responded:
        return ResponseTimes(0, waiting)
    ranks = _ranks(responded)
    wanted = sorted({*ranks["median"], *ranks["p90"]})
    ranked = (
        select(seconds.label("seconds"), func.row_number().over(order_by=seconds).label("rank"))
        .where(in_period, Case.first_response_at.is_not(None))
        .subquery()
    )
    values = {rank: float(s) / 3600 for s, rank in session.execute(
        select(ranked.c.seconds, ranked.c.rank).where(ranked.c.rank.in_(wanted))
    )}
    return ResponseTimes(responded, waiting, _picked(values, ranks["median"]), _picked(values, ranks["p90"]),
                         tuple(by_bucket))


def _ranked(rows) -> list[tuple[str, int]]:
    """(label, count) pairs, most first, ties by label."""
    return sorted(((label, int(count)) for label, count in rows), key=lambda r: (-r[1], r[0]))


def cases_per_treatment(session: Session, period: Period) -> list[tuple[str, int]]:
    return _ranked(session.execute(
        select(Treatment.name, func.count(Case.id))
        .join(Case, Case.treatment_id == Treatment.id)
        .where(_in_period(Case.created_at, period))
        .group_by(Treatment.id, Treatment.name)
    ))


def cases_per_residence(session: Session, period: Period) -> list[tuple[str, int]]:
    """Where the patients live (country codes)."""
    return _ranked(session.execute(
        select(Case.country, func.count(Case.id))
        .where(_in_period(Case.created_at, period))
        .group_by(Case.country)
    ))


def cases_per_destination(session: Session, period: Period) -> list[tuple[str, int]]:
    """Where the requests were sent: each case counted once per country of the clinics
    it was referred to (country codes)."""
    return _ranked(session.execute(
        select(Clinic.country, func.count(distinct(Referral.case_id)))
        .select_from(Referral)
        .join(Clinic, Clinic.id == Referral.clinic_id)
        .join(Case, Case.id == Referral.case_id)
        .where(_in_period(Case.created_at, period))
        .group_by(Clinic.country)
    ))


@dataclass
class ClinicAnswers:
    """How one clinic answered the referrals sent to it in the period. An answer is an
    acceptance or a refusal; pending and withdrawn referrals are not answers."""

    name: str
    country: str
    referred: int = 0
    accepted: int = 0
    declined: int = 0
    median_answer_hours: float | None = None

    @property
    def answered(self) -> int:
        return self.accepted + self.declined

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.answered if self.answered else None


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(sql_case((condition, 1), else_=0))


def clinic_answers(session: Session, period: Period) -> list[ClinicAnswers]:
    """Counts per clinic in one GROUP BY; each clinic's median answer time from the
    middle rank(s) of a window partitioned by clinic."""
    in_period = _in_period(Referral.created_at, period)
    clinics: dict[int, ClinicAnswers] = {}
    for clinic_id, name, country, referred, accepted, declined in session.execute(
        select(
            Clinic.id, Clinic.name, Clinic.country, func.count(Referral.id),
            _count_where(Referral.status == ReferralStatus.ACCEPTED.value),
            _count_where(Referral.status == ReferralStatus.DECLINED.value),
        )
        .join(Clinic, Clinic.id == Referral.clinic_id)
        .where(in_period)
        .group_by(Clinic.id, Clinic.name, Clinic.country)
    ):
        clinics[clinic_id] = ClinicAnswers(name, country, int(referred), int(accepted or 0), int(declined or 0))
    seconds = _seconds_between(Referral.created_at, Referral.responded_at)
    ranked = (
        select(
            Referral.clinic_id.label("clinic_id"), seconds.label("seconds"),
            func.row_number().over(partition_by=Referral.clinic_id, order_by=seconds).label("rank"),
            func.count().over(partition_by=Referral.clinic_id).label("n"),
        )
        .where(in_period, Referral.status.in_([s.value for s in ANSWERS]), Referral.responded_at.is_not(None))
        .subquery()
    )
    middle = or_(ranked.c.rank == (ranked.c.n + 1) // 2, ranked.c.rank == (ranked.c.n + 2) // 2)
    for clinic_id, median_seconds in session.execute(
        select(ranked.c.clinic_id, func.avg(ranked.c.seconds)).where(middle).group_by(ranked.c.clinic_id)
    ):
        clinics[clinic_id].median_answer_hours = float(median_seconds) / 3600
    return sorted(clinics.values(), key=lambda c: (c.name.casefold(), c.country))


@dataclass(frozen=True)
class FunnelStage:
    label: str
    count: int


def funnel(session: Session, period: Period, groups: list[CaseGroup] | None = None) -> list[FunnelStage]:
    """Requests → sent to clinics → clinic chosen → booked (travel booked or later, or
    closed as booked). Each stage counts the
    requests that got at least that far, so the counts never grow down the funnel (a
    case closed as booked counts as chosen and sent, even if staff skipped a step).
    Read from `case_groups` (shared with the per-day chart when `collect` passes them)."""
    requests = routed = chosen = booked = 0
    for _day, status, closed_reason, was_referred, n in case_groups(session, period) if groups is None else groups:
        requests += n
        is_booked = (status == CaseStatus.CLOSED and closed_reason == BOOKED) or status in _ON_THE_TRIP
        is_chosen = is_booked or status in _PAST_CHOICE
        booked += n * is_booked
        chosen += n * is_chosen
        routed += n * (is_chosen or bool(was_referred))
    return [
        FunnelStage("Requests", requests),
        FunnelStage(CaseStatus.ROUTED.label, routed),
        FunnelStage(CaseStatus.CHOSEN.label, chosen),
        FunnelStage(CLOSE_REASONS[BOOKED], booked),
    ]


@dataclass(frozen=True)
class Dashboard:
    period: Period
    per_day: DailyCounts
    response: ResponseTimes
    treatments: list[tuple[str, int]]
    residences: list[tuple[str, int]]
    destinations: list[tuple[str, int]]
    clinics: list[ClinicAnswers]
    funnel: list[FunnelStage]

    @property
    def requests(self) -> int:
        return self.per_day.total

    @property
    def acceptance_rate(self) -> float | None:
        answered = sum(c.answered for c in self.clinics)
        return sum(c.accepted for c in self.clinics) / answered if answered else None


def collect(session: Session, period: Period) -> Dashboard:
    groups = case_groups(session, period)
    return Dashboard(
        period=period,
        per_day=cases_per_day(session, period, groups),
        response=first_response(session, period),
        treatments=cases_per_treatment(session, period),
        residences=cases_per_residence(session, period),
        destinations=cases_per_destination(session, period),
        clinics=clinic_answers(session, period),
        funnel=funnel(session, period, groups),
    )
