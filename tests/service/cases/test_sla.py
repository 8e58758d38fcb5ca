"""SLA clocks: first staff response within 24 h, clinic answer within 72 h, paused
while the case waits on the patient. Every scenario is checked twice: with the plain
functions and with the stored deadline (`cases.sla_due_at`) through the SQL condition
and sort key the queue uses (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from service.cases import sla, workflow
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import Case, PatientQuestion, Referral
from tests.fixtures.staff import make_user
from tests.fixtures.cases import NOW, hours, make_case
from tests.fixtures.referrals import make_referral


def sql_overdue(now: datetime) -> set[str]:
    return set(db.session.scalars(select(Case.reference).where(sla.overdue_clause(now))))


def sql_next_due(case: Case, now: datetime) -> datetime | None:
    value = db.session.scalar(select(sla.due_sort_key(now)).where(Case.id == case.id))
    return None if value is None else datetime.fromtimestamp(float(value), timezone.utc)


def stored_agrees(case: Case, now: datetime) -> None:
    """The stored deadline, read in Python and in SQL, is the plain functions' next one."""
    plain = sla.case_sla(case, now).next_due
    stored, in_sql = sla.due_at(case, now), sql_next_due(case, now)
    if plain is None:
        assert stored is None and in_sql is None, (stored, in_sql)
    else:
        assert close_to(stored, plain) and close_to(in_sql, plain), (plain, stored, in_sql)


def overdue_both_ways(case: Case, now: datetime, *, refresh: bool = True) -> bool:
    """The plain functions and the stored deadline agree, and say whether the case is
    overdue. `refresh`: the scenario was written by hand, so store its deadline first;
    without it, whatever changed the case must have kept the deadline itself."""
    db.session.flush()
    if refresh:
        sla.refresh_deadline(case)
        db.session.flush()
    stored_agrees(case, now)
    plain = sla.case_sla(case, now).overdue
    in_sql = case.reference in sql_overdue(now)
    assert plain == in_sql, f"functions say {plain}, SQL says {in_sql}"
    return plain


def close_to(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and b is not None and abs(a - b) < timedelta(seconds=1)


@pytest.mark.parametrize(("age", "overdue"), [(23, False), (25, True)])
def test_first_response_is_due_24_hours_after_submission(db_session, age, overdue):
    case = make_case(age=hours(age))
    assert sla.first_response_due(case, NOW) == case.created_at + hours(24)
    assert sla.is_overdue(case, NOW, referrals=[]) is overdue
    assert overdue_both_ways(case, NOW) is overdue


def test_no_deadline_passes_while_the_case_waits_on_the_patient(db_session):
    case = make_case(age=hours(25), sla_paused_since=NOW - hours(10))
    assert not overdue_both_ways(case, NOW)
    # However long the patient takes, the clock stands still.
    assert not overdue_both_ways(case, NOW + hours(100))
    assert close_to(sla.first_response_due(case, NOW), NOW + hours(9))


def test_the_clock_resumes_counting_after_the_patient_answers(db_session):
    case = make_case(age=hours(25), sla_paused_seconds=int(hours(10).total_seconds()))
    assert sla.first_response_due(case, NOW) == case.created_at + hours(34)
    assert not overdue_both_ways(case, NOW + hours(8))
    assert overdue_both_ways(case, NOW + hours(10))


def test_a_case_already_late_when_paused_stays_late(db_session):
    case = make_case(age=hours(30), sla_paused_since=NOW - hours(1))
    assert overdue_both_ways(case, NOW)


def test_the_first_response_stops_the_clock(db_session):
    case = make_case(age=hours(25), first_response_at=NOW - hours(2))
    assert sla.first_response_due(case, NOW) is None
    assert not overdue_both_ways(case, NOW)


def test_closed_cases_are_never_overdue(db_session):
    case = make_case(age=hours(100), status=CaseStatus.CLOSED, closed_reason="spam")
    make_referral(case, age=hours(99))
    assert not overdue_both_ways(case, NOW)


@pytest.mark.parametrize(("age", "overdue"), [(71, False), (73, True)])
def test_a_referral_pending_past_72_hours_makes_the_case_overdue(db_session, age, overdue):
    case = make_case(age=hours(age + 1), status=CaseStatus.ROUTED, first_response_at=NOW - hours(age))
    referral = make_referral(case, age=hours(age))
    assert sla.referral_due(referral, case, [], NOW) == referral.created_at + hours(72)
    assert (sla.overdue_referrals(case, [referral], [], NOW) == [referral]) is overdue
    assert sla.is_overdue(case, NOW, referrals=[referral]) is overdue
    assert overdue_both_ways(case, NOW) is overdue


def test_a_clinic_that_answered_stops_its_clock(db_session):
    case = make_case(age=hours(80), status=CaseStatus.ROUTED, first_response_at=NOW - hours(79))
    make_referral(case, age=hours(79), status=ReferralStatus.ACCEPTED).responded_at = NOW - hours(2)
    assert not overdue_both_ways(case, NOW)


def test_once_the_patient_chose_a_clinic_nobody_is_chased(db_session):
    case = make_case(age=hours(80), status=CaseStatus.CHOSEN, first_response_at=NOW - hours(79))
    make_referral(case, age=hours(79))
    assert not overdue_both_ways(case, NOW)


def test_a_pause_before_routing_gives_the_clinic_no_extra_time(db_session):
    """The patient answered a question before the case was routed: that pause is in the
    case's paused seconds, but the clinic's 72 h start at its referral."""
    case = make_case(
        age=hours(200), status=CaseStatus.ROUTED, first_response_at=NOW - hours(199),
        sla_paused_seconds=int(hours(48).total_seconds()),
    )
    db.session.add(PatientQuestion(
        case=case, question="Which knee?", resume_status=CaseStatus.SUBMITTED,
        asked_at=NOW - hours(199), answered_at=NOW - hours(151), answer="The left one.",
    ))
    make_referral(case, age=hours(73))
    assert overdue_both_ways(case, NOW)


def test_a_pause_after_routing_extends_the_clinics_deadline(db_session):
    case = make_case(
        age=hours(100), status=CaseStatus.ROUTED, first_response_at=NOW - hours(99),
        sla_paused_seconds=int(hours(20).total_seconds()),
    )
    referral = make_referral(case, age=hours(80))
    db.session.add(PatientQuestion(
        case=case, question="Which knee?", resume_status=CaseStatus.ROUTED,
        asked_at=NOW - hours(60), answered_at=NOW - hours(40), answer="The left one.",
    ))
    assert not overdue_both_ways(case, NOW)
    due = sla.case_sla(case, NOW).next_due
    assert close_to(due, referral.created_at + hours(92))
    assert close_to(sql_next_due(case, NOW), due)
    assert overdue_both_ways(case, NOW + hours(13))


def test_a_running_pause_holds_the_clinics_clock_too(db_session):
    case = make_case(
        age=hours(100), status=CaseStatus.AWAITING_PATIENT, first_response_at=NOW - hours(99),
        sla_paused_since=NOW - hours(30),
    )
    make_referral(case, age=hours(80))
    assert not overdue_both_ways(case, NOW)
    assert not overdue_both_ways(case, NOW + hours(200))


def test_the_next_deadline_is_the_soonest_running_clock(db_session):
    case = make_case(age=hours(10), status=CaseStatus.ROUTED)
    make_referral(case, age=hours(60))
    summary = sla.case_sla(case, NOW)
    assert [d.clock for d in summary.deadlines] == [sla.CLINIC_ANSWER, sla.FIRST_RESPONSE]
    assert close_to(summary.next_due, NOW + hours(12))
    assert close_to(sql_next_due(case, NOW), summary.next_due)

    quiet = make_case(age=hours(10), first_response_at=NOW - hours(9))
    assert sla.case_sla(quiet, NOW).next_due is None and sql_next_due(quiet, NOW) is None


def test_asking_and_answering_through_the_workflow_pauses_and_resumes(db_session, monkeypatch):
    """The workflow's pause bookkeeping and these clocks fit together."""
    coordinator = make_user()
    start = datetime.now(timezone.utc)
    case = make_case(age=hours(1), now=start)
    clock = {"now": start}
    monkeypatch.setattr(workflow, "_now", lambda: clock["now"])
    workflow.perform(case, "route", coordinator, top_n=1)
    [referral] = db.session.scalars(select(Referral).where(Referral.case_id == case.id)).all()
    referral.created_at = start - hours(60)
    assert case.first_response_at == start

    workflow.perform(case, "request_info", coordinator, question="Which knee is it, left or right?")
    question = workflow.open_question(case)
    question.asked_at = start
    clock["now"] = start + hours(30)
    assert case.sla_paused_since == start
    assert not overdue_both_ways(case, clock["now"], refresh=False)  # a 90 h old referral, 30 h of it paused

    workflow.patient_answered(case, question, "The left one.")
    assert case.sla_paused_since is None
    assert case.sla_paused_seconds == int(hours(30).total_seconds())
    assert not overdue_both_ways(case, clock["now"] + hours(11), refresh=False)
    assert overdue_both_ways(case, clock["now"] + hours(13), refresh=False)


def test_the_stored_deadline_follows_every_change_of_the_clocks(db_session, monkeypatch):
    """Each way the clocks' inputs change (status, pause, answer, first response,
    referral sent, clinic answered) stores the deadline the plain functions give."""
    from service.cases import quotes, referrals

    coordinator = make_user()
    start = datetime.now(timezone.utc)
    clock = {"now": start}
    monkeypatch.setattr(workflow, "_now", lambda: clock["now"])
    case = make_case(age=hours(2), now=start)

    def check() -> None:
        db.session.flush()
        for later in (0, 5, 30, 100):
            stored_agrees(case, clock["now"] + hours(later))
            overdue_both_ways(case, clock["now"] + hours(later), refresh=False)

    check()
    workflow.perform(case, "add_note", coordinator, body="Looks complete.")  # not a response
    assert case.first_response_at is None and case.sla_due_at is not None
    check()
    workflow.perform(case, "request_info", coordinator, question="Which knee is it, left or right?")
    check()
    clock["now"] += hours(20)
    workflow.patient_answered(case, workflow.open_question(case), "The left one.")
    check()
    workflow.perform(case, "route", coordinator, top_n=1)
    [first] = db.session.scalars(select(Referral).where(Referral.case_id == case.id)).all()
    check()
    workflow.perform(case, "request_info", coordinator, question="And since when, roughly?")
    clock["now"] += hours(10)
    check()
    workflow.patient_answered(case, workflow.open_question(case), "Two years.")
    check()
    referrals.refer_next(case)
    check()
    quotes.decline(first, "No capacity this month.", coordinator)
    check()
    workflow.perform(case, "close", coordinator, reason="duplicate")
    assert case.sla_due_at is None
    check()
    workflow.perform(case, "reopen", coordinator)
    check()


def test_a_first_message_to_the_patient_stops_the_stored_clock(db_session):
    from service.cases import messages

    case = make_case(age=hours(30))
    assert case.sla_due_at == case.created_at + hours(24)
    messages.post_staff_message(case, make_user(), "We have your request and are reading it.")
    db.session.flush()
    assert case.sla_due_at is None and sql_overdue(NOW) == set()
