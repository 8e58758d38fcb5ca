"""The dashboard's figures: plain functions over a session and a `Period`.

Every figure is about the requests received in the period (by `Case.created_at`),
except the clinics' answers, which are about the referrals sent in it. Queries select
only the columns they need; anything dialect-specific (dates, medians) is done in
Python over those rows, so SQLite and PostgreSQL give the same answers. All times are
UTC."""
from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from sqlalchemy import distinct, exists, func, select
from sqlalchemy.orm import Session

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


def hours_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


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


def cases_per_day(session: Session, period: Period) -> DailyCounts:
    counts: dict[date, dict[CaseStatus, int]] = {day: {s: 0 for s in CaseStatus} for day in period.days}
    rows = session.execute(select(Case.created_at, Case.status).where(_in_period(Case.created_at, period)))
    for created_at, status in rows:
        counts[created_at.date()][CaseStatus(status)] += 1
    return DailyCounts(period.days, tuple(CaseStatus), counts)


@dataclass(frozen=True)
class ResponseTimes:
    """Submission to the first staff action, for the requests that have had one."""

    hours: list[float]
    waiting: int  # requests in the period nobody has acted on yet

    @property
    def median(self) -> float | None:
        return median(self.hours)

    @property
    def p90(self) -> float | None:
        return percentile(self.hours, 90)

    @property
    def histogram(self) -> list[tuple[str, int]]:
        counts = Counter(next(label for bound, label in RESPONSE_BUCKETS if h < bound) for h in self.hours)
        return [(label, counts[label]) for _, label in RESPONSE_BUCKETS]


def first_response(session: Session, period: Period) -> ResponseTimes:
    hours: list[float] = []
    waiting = 0
    rows = session.execute(
        select(Case.created_at, Case.first_response_at).where(_in_period(Case.created_at, period))
    )
    for created_at, responded_at in rows:
        if responded_at is None:
            waiting += 1
        else:
            hours.append(max(0.0, hours_between(created_at, responded_at)))
    return ResponseTimes(sorted(hours), waiting)


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
    answer_hours: list[float] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return self.accepted + self.declined

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.answered if self.answered else None

    @property
    def median_answer_hours(self) -> float | None:
        return median(self.answer_hours)


def clinic_answers(session: Session, period: Period) -> list[ClinicAnswers]:
    clinics: dict[int, ClinicAnswers] = {}
    rows = session.execute(
        select(Clinic.id, Clinic.name, Clinic.country, Referral.status, Referral.created_at, Referral.responded_at)
        .join(Clinic, Clinic.id == Referral.clinic_id)
        .where(_in_period(Referral.created_at, period))
    )
    for clinic_id, name, country, status, created_at, responded_at in rows:
        clinic = clinics.setdefault(clinic_id, ClinicAnswers(name, country))
        clinic.referred += 1
        if status == ReferralStatus.ACCEPTED:
            clinic.accepted += 1
        elif status == ReferralStatus.DECLINED:
            clinic.declined += 1
        if status in ANSWERS and responded_at is not None:
            clinic.answer_hours.append(max(0.0, hours_between(created_at, responded_at)))
    return sorted(clinics.values(), key=lambda c: (c.name.casefold(), c.country))


@dataclass(frozen=True)
class FunnelStage:
    label: str
    count: int


def funnel(session: Session, period: Period) -> list[FunnelStage]:
    """Requests → sent to clinics → clinic chosen → booked (travel booked or later, or
    closed as booked). Each stage counts the
    requests that got at least that far, so the counts never grow down the funnel (a
    case closed as booked counts as chosen and sent, even if staff skipped a step)."""
    referred = exists().where(Referral.case_id == Case.id)
    rows = session.execute(
        select(Case.status, Case.closed_reason, referred).where(_in_period(Case.created_at, period))
    )
    requests = routed = chosen = booked = 0
    for status, closed_reason, was_referred in rows:
        requests += 1
        is_booked = (status == CaseStatus.CLOSED and closed_reason == BOOKED) or status in _ON_THE_TRIP
        is_chosen = is_booked or status in _PAST_CHOICE
        booked += is_booked
        chosen += is_chosen
        routed += is_chosen or bool(was_referred)
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
    return Dashboard(
        period=period,
        per_day=cases_per_day(session, period),
        response=first_response(session, period),
        treatments=cases_per_treatment(session, period),
        residences=cases_per_residence(session, period),
        destinations=cases_per_destination(session, period),
        clinics=clinic_answers(session, period),
        funnel=funnel(session, period),
    )
