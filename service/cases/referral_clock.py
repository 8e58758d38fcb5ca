"""The clinic's answer clock at work (the 72 h of `sla.CLINIC_ANSWER`): a periodic chore
(`workers.schedule`) that, for every referral still waiting for its clinic,

- asks once for a reminder e-mail when `limits.CLINIC_REMINDER_HOURS_LEFT` remain
  (`reminded_at`; the job sends it once through the notifications ledger);
- at the deadline marks the referral overdue (`overdue_at`; the staff queue shows it)
  and, when `ROUTING_ESCALATE` is on, refers the case once to the best-ranked clinic
  not yet referred (`escalated_at`), with the reason on the timeline.

An overdue referral stays pending: the clinic's late quote or decline is still taken
(`service.cases.quotes`). The clock is `sla`'s, so it pauses while the case waits on
the patient and the chore marks exactly what the case file and the queue show."""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Final

from flask import current_app
from sqlalchemy import select

from service import limits
from service.cases import case_mail, events, patient_mail, referrals, sla
from service.cases.status import ReferralStatus
from service.extensions import db
from service.models import Case, Referral
from service.notifications import clinic_mail
from service.outbox import Job, commit, record

log = logging.getLogger(__name__)

REMIND_BEFORE: Final = timedelta(hours=limits.CLINIC_REMINDER_HOURS_LEFT)
ANSWER_HOURS: Final = int(sla.CLINIC_ANSWER.limit.total_seconds() // 3600)


@dataclass
class ClockReport:
    """What one run of the chore did, by referral id."""

    reminded: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    impossible: list[int] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _waiting() -> list[Referral]:
    """Pending referrals not yet overdue (the last mark), oldest first, each locked with
    its case for this run: another worker's run skips them, so nothing is marked twice
    and two escalations of one case never pick the same next clinic."""
    return list(db.session.scalars(
        select(Referral)
        .join(Case, Case.id == Referral.case_id)
        .where(
            Referral.status == ReferralStatus.PENDING,
            Referral.responded_at.is_(None),
            Case.status.in_([s.value for s in sla.CLINIC_CLOCK_STATUSES]),
            Case.erased_at.is_(None),
            Referral.overdue_at.is_(None),
        )
        .order_by(Referral.created_at, Referral.id)
        .with_for_update(of=(Referral, Case), skip_locked=True)
    ))


def tick(now: datetime | None = None) -> ClockReport:
    """Set the marks due at `now` and record their work (reminder jobs, the next
    referral with its dossier); the caller commits (`run` does)."""
    now = now or _now()
    report = ClockReport()
    by_case: dict[int, list[Referral]] = defaultdict(list)
    for referral in _waiting():
        by_case[referral.case_id].append(referral)
    for waiting in by_case.values():
        case = waiting[0].case
        pauses = sla.finished_pauses(case)
        for referral in waiting:
            due = sla.referral_due(referral, case, pauses, now)
            if due is None:
                continue
            if due < now:
                _overdue(case, referral, now, report)
            elif referral.reminded_at is None and due - now <= REMIND_BEFORE:
                _remind(case, referral, due, now, report)
    return report


def run() -> ClockReport:
    """The periodic chore: `tick` now, then the one commit point (which relays the jobs)."""
    report = tick()
    commit()
    if report.reminded or report.overdue:
        log.info("answer clock: %d reminded, %d overdue, %d escalated, %d with no clinic left",
                 len(report.reminded), len(report.overdue), len(report.escalated), len(report.impossible))
    return report


def _remind(case: Case, referral: Referral, due: datetime, now: datetime, report: ClockReport) -> None:
    referral.reminded_at = now
    events.record_event(
        case, events.Actor.SYSTEM, events.EventKind.CLINIC_REMINDED, clinic=referral.clinic.slug,
        clinic_name=referral.clinic.name, referral_id=referral.id, hours_left=_hours_left(due, now),
    )
    record(Job.REMIND_CLINIC, case_id=case.id, referral_id=referral.id)
    report.reminded.append(referral.id)


def _overdue(case: Case, referral: Referral, now: datetime, report: ClockReport) -> None:
    referral.overdue_at = now
    late = referral.clinic
    events.record_event(
        case, events.Actor.SYSTEM, events.EventKind.CLINIC_OVERDUE, clinic=late.slug, clinic_name=late.name,
        referral_id=referral.id, hours=ANSWER_HOURS,
    )
    report.overdue.append(referral.id)
    if current_app.config["ROUTING_ESCALATE"] and referral.escalated_at is None:
        referral.escalated_at = now
        outcome = referrals.refer_next(case)
        if outcome.referrals:
            new = outcome.referrals[0]
            events.record_event(
                case, events.Actor.SYSTEM, events.EventKind.REFERRAL_ESCALATED, clinic=new.clinic.slug,
                clinic_name=new.clinic.name, referral_id=new.id, late_clinic=late.slug,
                late_clinic_name=late.name, late_referral_id=referral.id, hours=ANSWER_HOURS,
            )
            report.escalated.append(referral.id)
        else:
            events.record_event(
                case, events.Actor.SYSTEM, events.EventKind.ESCALATION_IMPOSSIBLE, late_clinic=late.slug,
                late_clinic_name=late.name, late_referral_id=referral.id, hours=ANSWER_HOURS,
                reason=outcome.reason,
            )
            report.impossible.append(referral.id)
    # A clock that ran out settles its referral for the patient's "all quotes are in".
    patient_mail.referral_settled(case)


def _hours_left(due: datetime, now: datetime) -> int:
    return max(0, round((due - now).total_seconds() / 3600))


def remind(referral: Referral, now: datetime | None = None) -> bool:
    """The reminder e-mail the chore asked for, once per referral; True if sent now.
    Nothing once the clinic answered, the clock stopped or the case was erased."""
    now = now or _now()
    case = referral.case
    due = sla.referral_due(referral, case, sla.finished_pauses(case), now)
    if due is None or case.erased_at is not None:
        return False
    return case_mail.to_clinic(referral, clinic_mail.kind(clinic_mail.REMINDER, referral.id), clinic_mail.reminder,
                               due=due, hours_left=_hours_left(due, now))
