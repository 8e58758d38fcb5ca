"""`flask --app wsgi demo seed`: staff accounts and realistic cases, once."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select

from service.accounts.passwords import verify_password
from service.cases.status import CaseStatus, ReferralStatus
from service.cases.tokens import hash_token
from service.cases.workflow import CLOSE_REASONS
from service.dashboard import metrics
from service.dashboard.period import Period
from service.demo.seed import ADMIN_EMAIL, COORDINATOR_EMAIL, DEMO_SOURCE, DemoError, seed
from service.extensions import db
from service.models import Case, ClinicTreatment, OutboxMessage, PatientQuestion, Referral, User
from tests.fixtures.staff import sign_in

PASSWORD = "demo password 1234"


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["demo", "seed", *args])


def demo_cases() -> list[Case]:
    return list(db.session.scalars(select(Case).where(Case.source == DEMO_SOURCE).order_by(Case.id)))


@pytest.fixture
def seeded(app, db_session):
    result = run(app, "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return result


def test_creates_a_coordinator_an_admin_and_cases_in_every_status(seeded):
    users = {u.email: u for u in db.session.scalars(select(User))}
    assert users[COORDINATOR_EMAIL].role == "coordinator" and users[COORDINATOR_EMAIL].active
    assert users[ADMIN_EMAIL].role == "admin"
    assert verify_password(users[COORDINATOR_EMAIL].password_hash, PASSWORD)
    assert verify_password(users[ADMIN_EMAIL].password_hash, PASSWORD)
    assert f"password for {COORDINATOR_EMAIL} and {ADMIN_EMAIL}: {PASSWORD}" in seeded.output
    assert "sign in at http://127.0.0.1:8000/staff/login" in seeded.output

    cases = demo_cases()
    assert len(cases) >= 30
    assert {c.status for c in cases} == set(CaseStatus)
    closed = {c.closed_reason for c in cases if c.status == CaseStatus.CLOSED}
    assert closed == set(CLOSE_REASONS)
    assert len({c.reference for c in cases}) == len(cases)
    assert all(re.fullmatch(r"MT-\d{4}-\d{6}", c.reference) for c in cases)
    assert len({c.treatment_id for c in cases}) >= 8
    assert len({c.country for c in cases}) >= 8
    assert any(re.search("[а-яё]", c.description) for c in cases)
    assert any(re.search("[a-z]{4}", c.description) and not re.search("[а-яё]", c.description) for c in cases)
    assert f"{len(cases)} demo cases:" in seeded.output
    # Seeding sends nothing: no email, no PDFs, no routing jobs.
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0

    # A patient's status link, to see the other side of a question.
    match = re.search(r"/s/([A-Za-z0-9_-]{43})", seeded.output)
    assert match
    waiting = db.session.scalar(select(Case).where(Case.token_hash == hash_token(match.group(1))))
    assert waiting.status == CaseStatus.AWAITING_PATIENT


def test_each_story_is_consistent_from_submission_to_now(seeded):
    now = datetime.now(timezone.utc)
    cases = demo_cases()
    assert min(c.created_at for c in cases) >= now - timedelta(days=45, minutes=5)
    assert max(c.created_at for c in cases) <= now
    assert min(c.created_at for c in cases) <= now - timedelta(days=30)
    for c in cases:
        for event in c.events:
            assert c.created_at <= event.created_at <= now, (c.reference, event.kind)
        assert c.first_response_at is None or c.created_at <= c.first_response_at <= now
        assert c.consent_at == c.created_at

    for c in cases:
        kinds = [e.kind for e in c.events]
        assert kinds[0] == "case_submitted", c.reference
        assert [e.created_at for e in c.events] == sorted(e.created_at for e in c.events), c.reference
        state = CaseStatus.SUBMITTED
        for event in c.events:
            if event.kind == "status_changed":
                assert event.details["old"] == state, (c.reference, event.details)
                state = event.details["new"]
        assert state == c.status, c.reference
        staff_events = [e for e in c.events if e.actor.startswith("staff:") and e.kind != "note"]
        if staff_events:
            assert c.first_response_at == staff_events[0].created_at, c.reference
        else:
            assert c.first_response_at is None, c.reference

    referrals = list(db.session.scalars(select(Referral).where(Referral.case_id.in_([c.id for c in cases]))))
    assert {r.status for r in referrals} >= {ReferralStatus.PENDING, ReferralStatus.ACCEPTED, ReferralStatus.DECLINED}
    for r in referrals:
        assert r.clinic.offers_treatment(r.case.treatment_id)
        assert r.created_at >= r.case.created_at
        if r.status == ReferralStatus.PENDING:
            assert r.responded_at is None
        else:
            assert r.created_at < r.responded_at <= now
    for c in cases:
        if c.status == CaseStatus.CHOSEN or c.closed_reason == "booked":
            chosen = next(e for e in c.events if e.kind == "status_changed" and e.details["new"] == CaseStatus.CHOSEN)
            referral = db.session.get(Referral, chosen.details["referral_id"])
            assert referral.status == ReferralStatus.ACCEPTED and referral.contact_released_at is not None
        questions = list(db.session.scalars(select(PatientQuestion).where(PatientQuestion.case_id == c.id)))
        if c.status == CaseStatus.AWAITING_PATIENT:
            assert [q.answered_at for q in questions][-1] is None
            assert c.sla_paused_since == questions[-1].asked_at
        else:
            assert all(q.answered_at is not None for q in questions)
            assert c.sla_paused_since is None
        for q in questions:
            if q.answered_at is not None:
                assert c.sla_paused_seconds >= int((q.answered_at - q.asked_at).total_seconds())


def test_a_second_run_adds_nothing_and_keeps_the_password(app, seeded):
    before = len(demo_cases())
    again = run(app, "--password", "another password 999")
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    assert len(demo_cases()) == before
    assert db.session.scalar(select(func.count(User.id)).where(User.email.in_([COORDINATOR_EMAIL, ADMIN_EMAIL]))) == 2
    coordinator = db.session.scalar(select(User).where(User.email == COORDINATOR_EMAIL))
    assert verify_password(coordinator.password_hash, PASSWORD)
    assert f"{COORDINATOR_EMAIL} already exists; its password was not changed" in again.output
    assert f"{before} demo cases already exist; no cases were added" in again.output
    assert "password for" not in again.output


def test_a_password_is_generated_when_none_is_given(app, db_session):
    result = run(app)
    assert result.exit_code == 0, result.output
    password = re.search(rf"password for {COORDINATOR_EMAIL} and {ADMIN_EMAIL}: (\S+)", result.output).group(1)
    assert len(password) >= 12
    coordinator = db.session.scalar(select(User).where(User.email == COORDINATOR_EMAIL))
    assert verify_password(coordinator.password_hash, password)


def test_a_short_password_is_refused(app, db_session):
    result = run(app, "--password", "short")
    assert result.exit_code == 2
    assert "at least 12 characters" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_without_a_catalogue_it_says_what_to_do(app, db_session):
    db.session.execute(delete(ClinicTreatment))
    with pytest.raises(DemoError, match="catalog load"):
        seed(db.session, password=PASSWORD, now=datetime.now(timezone.utc))


def test_the_dashboard_then_shows_real_figures(client, seeded):
    today = datetime.now(timezone.utc).date()
    data = metrics.collect(db.session, Period(today - timedelta(days=45), today))
    assert data.requests == len(demo_cases())
    assert data.response.hours and data.response.waiting
    assert data.clinics and data.acceptance_rate is not None
    assert [s.count for s in data.funnel][-1] == 4  # the booked ones
    assert data.treatments and data.destinations and data.residences

    sign_in(client, db.session.scalar(select(User).where(User.email == COORDINATOR_EMAIL)))
    page = client.get("/staff/dashboard")
    assert page.status_code == 200
    requests = int(re.search(r'Requests received</dt>\s*<dd><span class="figure-value">(\d+)', page.text).group(1))
    assert requests > 0
    assert "No requests were received in this period." not in page.text
    assert page.text.count('role="img"') >= 8
