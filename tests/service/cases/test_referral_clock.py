"""The clinic's answer clock (72 h): one reminder when 24 h remain, overdue at the
deadline (on the staff queue too), one escalation to the next-ranked clinic (or the
reason why none is left), and the late answer still taken. Time moves by ageing the
referrals' `created_at`, never by sleeping."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from service import config
from service.accounts.roles import CLINIC
from service.cases import events, quotes, referral_clock, referrals, worklist
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import Case, CaseEvent, Notification, Referral
from service.outbox import Job
from tests.fixtures.cases import hours, make_case, rows
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.smtp import text_of
from tests.fixtures.staff import make_user

DESCRIPTION = "Left thigh amputation in 2019; socket pain when walking."


def now() -> datetime:
    return datetime.now(timezone.utc)


def routed(top_n: int = 3, **fields) -> tuple[Case, list[Referral]]:
    """A case referred by the real routing to its `top_n` best clinics (of four)."""
    case = make_case(age=hours(100), now=now(), description=DESCRIPTION, **fields)
    outcome = referrals.route(case, top_n)
    assert len(outcome.referrals) == top_n
    db.session.commit()
    return case, outcome.referrals


def age(referral: Referral, elapsed: timedelta, at: datetime) -> None:
    referral.created_at = at - elapsed
    db.session.commit()


def kinds(case: Case, kind: str) -> list[CaseEvent]:
    return list(db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == kind).order_by(CaseEvent.id)
    ))


def case_referrals(case: Case) -> list[Referral]:
    db.session.expire_all()
    return list(db.session.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.id)))


@pytest.fixture
def mail(app, smtp_server, smtp_url, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", smtp_url)
    return smtp_server


@pytest.fixture
def escalate(app, monkeypatch):
    monkeypatch.setitem(app.config, "ROUTING_ESCALATE", True)


def test_no_reminder_before_48_hours(app_ctx, mail):
    case, [late, *_] = routed()
    at = now()
    age(late, hours(47) + timedelta(minutes=59), at)
    report = referral_clock.tick(at)
    assert report.reminded == [] and late.reminded_at is None
    assert rows(case, Job.REMIND_CLINIC) == []


def test_the_reminder_goes_once_when_24_hours_remain(app_ctx, mail):
    case, [late, fresh, _] = routed()
    at = now()
    age(late, hours(48) + timedelta(minutes=1), at)
    age(fresh, hours(1), at)
    assert referral_clock.tick(at).reminded == [late.id]
    db.session.commit()
    assert late.reminded_at == at and fresh.reminded_at is None
    [event] = kinds(case, events.EventKind.CLINIC_REMINDED)
    assert event.details["referral_id"] == late.id and event.details["hours_left"] == 24

    assert run_pending(Job.REMIND_CLINIC) == 1
    assert referral_clock.tick(at + timedelta(minutes=5)).reminded == []  # the chore again: nothing new
    assert referral_clock.remind(late) is False  # the job again: the ledger says sent
    db.session.commit()
    assert rows(case, Job.REMIND_CLINIC) and len(rows(case, Job.REMIND_CLINIC)) == 1

    [message] = mail.messages()
    assert mail.envelopes[0].rcpt_tos == [late.clinic.email]
    assert message["Subject"] == f"Medtour: referral {case.reference} is waiting for your answer"
    text = text_of(message)
    assert "in about 24 hours" in text and f"/clinic/referrals/{late.id}" in text
    assert "A late answer is still accepted" in text
    assert "socket pain" not in text and case.full_name not in text and case.treatment.name not in text
    assert message["Auto-Submitted"] == "auto-generated"
    assert db.session.scalars(select(Notification.kind).where(Notification.case_id == case.id,
                                                              Notification.kind.like("clinic_reminder%"))).all() \
        == [f"clinic_reminder:{late.id}"]


def test_no_reminder_for_a_clinic_that_answered_before_the_job_ran(app_ctx, mail):
    case, [late, *_] = routed()
    at = now()
    age(late, hours(50), at)
    referral_clock.tick(at)
    db.session.commit()
    quotes.decline(late, "No capacity this month.", make_user(CLINIC, clinic_id=late.clinic_id))
    db.session.commit()
    run_pending(Job.REMIND_CLINIC)
    assert mail.envelopes == []


def test_no_reminder_while_the_clock_is_paused_for_the_patient(app_ctx, mail):
    case, [late, *_] = routed()
    at = now()
    age(late, hours(60), at)
    case.status = CaseStatus.AWAITING_PATIENT
    case.sla_paused_since = at - hours(40)
    db.session.commit()
    report = referral_clock.tick(at)
    assert report.reminded == [] and report.overdue == []


def test_at_72_hours_the_referral_is_overdue_and_exactly_one_next_clinic_is_referred(app_ctx, escalate):
    case, [late, fresh, third] = routed()
    at = now()
    age(late, hours(71) + timedelta(minutes=59), at)
    age(fresh, hours(2), at)
    age(third, hours(2), at)
    assert referral_clock.tick(at).overdue == []
    assert late.overdue_at is None

    age(late, hours(72) + timedelta(minutes=1), at)
    report = referral_clock.tick(at)
    db.session.commit()
    assert report.overdue == [late.id] and report.escalated == [late.id]
    assert late.overdue_at == at and late.escalated_at == at and late.status == ReferralStatus.PENDING
    assert case.status == CaseStatus.ROUTED
    after = case_referrals(case)
    assert len(after) == 4
    new = after[-1]
    assert new.clinic_id not in {late.clinic_id, fresh.clinic_id, third.clinic_id}
    assert new.status == ReferralStatus.PENDING
    dossiers = [r.payload["referral_id"] for r in rows(case, Job.RENDER_DOSSIER)]
    assert dossiers.count(new.id) == 1 and len(dossiers) == 4  # its dossier (which tells the clinic)

    [overdue] = kinds(case, events.EventKind.CLINIC_OVERDUE)
    assert overdue.details["referral_id"] == late.id and overdue.actor == events.Actor.SYSTEM
    [escalated] = kinds(case, events.EventKind.REFERRAL_ESCALATED)
    assert escalated.details["referral_id"] == new.id and escalated.details["late_referral_id"] == late.id
    described = events.describe(escalated, staff=True)
    assert described == (f"Referred to {new.clinic.name} because {late.clinic.name} did not answer within 72 h")

    again = referral_clock.tick(at + hours(1))  # once: the chore again refers nobody new
    db.session.commit()
    assert again.overdue == [] and again.escalated == []
    assert len(case_referrals(case)) == 4
    assert len(kinds(case, events.EventKind.REFERRAL_ESCALATED)) == 1


def test_with_escalation_off_the_referral_is_only_marked_overdue(app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "ROUTING_ESCALATE", False)
    case, [late, *_] = routed()
    at = now()
    age(late, hours(73), at)
    report = referral_clock.tick(at)
    db.session.commit()
    assert report.overdue == [late.id] and report.escalated == [] and report.impossible == []
    assert late.overdue_at == at and late.escalated_at is None
    assert len(case_referrals(case)) == 3
    assert kinds(case, events.EventKind.REFERRAL_ESCALATED) == []
    assert kinds(case, events.EventKind.ESCALATION_IMPOSSIBLE) == []
    assert len(kinds(case, events.EventKind.CLINIC_OVERDUE)) == 1


def test_with_no_clinic_left_the_timeline_says_why(app_ctx, escalate):
    case, [late, *_] = routed(top_n=4)
    at = now()
    age(late, hours(73), at)
    report = referral_clock.tick(at)
    db.session.commit()
    assert report.impossible == [late.id] and report.escalated == []
    assert late.escalated_at == at
    assert len(case_referrals(case)) == 4
    [impossible] = kinds(case, events.EventKind.ESCALATION_IMPOSSIBLE)
    assert impossible.details["late_referral_id"] == late.id
    assert "already referred" in impossible.details["reason"]
    assert events.describe(impossible, staff=True).startswith(
        f"{late.clinic.name} did not answer within 72 h and no other clinic can take the case: "
    )
    referral_clock.tick(at + hours(1))
    db.session.commit()
    assert len(kinds(case, events.EventKind.ESCALATION_IMPOSSIBLE)) == 1


def test_an_overdue_clinics_late_answer_is_still_accepted(app_ctx, escalate):
    case, [late, *_] = routed()
    at = now()
    age(late, hours(80), at)
    referral_clock.tick(at)
    db.session.commit()
    today = date.today()
    quote = quotes.accept(late, quotes.Terms(
        price="11000", currency="EUR", earliest_date=today + timedelta(days=20), stay_days=5,
        valid_until=today + timedelta(days=40), includes=["treatment"],
    ), make_user(CLINIC, clinic_id=late.clinic_id))
    db.session.commit()
    assert quote.version == 1 and late.status == ReferralStatus.ACCEPTED
    assert late.overdue_at is not None  # the record of lateness stays
    assert kinds(case, events.EventKind.CLINIC_QUOTED)


def test_the_staff_queue_shows_which_clinic_is_overdue(app_ctx, staff_client, escalate):
    case, [late, *_] = routed()
    at = now()
    age(late, hours(73), at)
    referral_clock.tick(at)
    db.session.commit()
    page = worklist.page(db.session, worklist.QueueFilters(), user_id=make_user().id, now=now())
    [row] = [r for r in page.rows if r.case.id == case.id]
    assert row.overdue_clinics == (late.clinic.name,)
    html = staff_client.get("/staff/cases").text
    assert f"Overdue: {late.clinic.name}" in html

    quotes.decline(late, "Too late, sorry.", make_user(CLINIC, clinic_id=late.clinic_id))
    db.session.commit()
    page = worklist.page(db.session, worklist.QueueFilters(), user_id=make_user().id, now=now())
    [row] = [r for r in page.rows if r.case.id == case.id]
    assert row.overdue_clinics == ()


def test_the_periodic_chore_commits_its_marks(app_ctx, escalate):
    case, [late, *_] = routed()
    age(late, hours(73), now())
    report = referral_clock.run()
    assert late.id in report.overdue
    db.session.expire_all()
    assert db.session.get(Referral, late.id).overdue_at is not None


def _quote_all_but(case: Case, late: Referral) -> None:
    today = date.today()
    for referral in case_referrals(case):
        if referral.id != late.id:
            quotes.accept(referral, quotes.Terms(
                price="10000", currency="EUR", earliest_date=today + timedelta(days=20), stay_days=5,
                valid_until=today + timedelta(days=40), includes=["treatment"],
            ), make_user(CLINIC, clinic_id=referral.clinic_id))
    db.session.commit()


def _ready_all(case: Case) -> list[str]:
    return [r.payload["event"] for r in rows(case, Job.NOTIFY_PATIENT_EVENT) if r.payload["event"] == "quotes_ready_all"]


def test_a_clock_that_runs_out_settles_the_referral_for_the_patients_all_quotes_are_in(app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "ROUTING_ESCALATE", False)
    case, [late, *_] = routed()
    _quote_all_but(case, late)
    assert _ready_all(case) == []  # one clinic still answering
    at = now()
    age(db.session.get(Referral, late.id), hours(73), at)
    referral_clock.tick(at)
    db.session.commit()
    assert _ready_all(case) == ["quotes_ready_all"]


def test_after_escalation_the_patient_still_waits_for_the_new_clinic(app_ctx, escalate):
    case, [late, *_] = routed()
    _quote_all_but(case, late)
    at = now()
    age(db.session.get(Referral, late.id), hours(73), at)
    assert referral_clock.tick(at).escalated == [late.id]
    db.session.commit()
    assert _ready_all(case) == []


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("1", True), ("0", False)])
def test_escalation_is_on_unless_routing_escalate_is_0(monkeypatch, tmp_path, value, expected):
    if value is None:
        monkeypatch.delenv("ROUTING_ESCALATE", raising=False)
    else:
        monkeypatch.setenv("ROUTING_ESCALATE", value)
    assert config.load(str(tmp_path))["ROUTING_ESCALATE"] is expected
