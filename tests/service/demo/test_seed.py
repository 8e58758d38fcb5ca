"""`flask --app wsgi demo seed`: staff and clinic accounts and realistic cases with the
clinics' quotes, once."""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from service.accounts.passwords import verify_password
from service.cases import quotes
from service.cases.status import CaseStatus, ReferralStatus
from service.cases.tokens import hash_token
from service.cases.workflow import CLOSE_REASONS
from service.dashboard import metrics
from service.dashboard.period import Period
from service.demo.seed import ADMIN_EMAIL, CLINIC_EMAIL, COORDINATOR_EMAIL, DEMO_SOURCE, DemoError, seed
from service.extensions import db
from service.models import (
    Case, ClinicTreatment, Document, Notification, OutboxMessage, PatientQuestion, Quote, Referral, User,
)
from service.models.trip import Traveller
from service.notifications import CLINIC_REFERRAL, SENT
from service.outbox import DONE, Job
from service.trust import CONSENT_VERSION
from tests.fixtures.cases import run_worker
from tests.fixtures.gunicorn import private_redis
from tests.fixtures.staff import sign_in

PASSWORD = "demo password 1234"
# A clinic was chosen, and the trip may have moved on since.
AFTER_CHOICE = {CaseStatus.CHOSEN, CaseStatus.TRAVEL_BOOKED, CaseStatus.IN_TREATMENT, CaseStatus.RETURNED}
DOCUMENT_JOBS = {
    Job.RENDER_CONFIRMATION, Job.RENDER_DOSSIER, Job.RENDER_QUOTE_COMPARISON, Job.RENDER_BOOKING_SUMMARY,
    Job.RENDER_VISA_LETTER,
}


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["demo", "seed", *args])


def demo_cases() -> list[Case]:
    return list(db.session.scalars(select(Case).where(Case.source == DEMO_SOURCE).order_by(Case.id)))


def demo_referrals() -> list[Referral]:
    return list(db.session.scalars(
        select(Referral).join(Case, Case.id == Referral.case_id).where(Case.source == DEMO_SOURCE).order_by(Referral.id)
    ))


def printed_token(output: str, label: str) -> str:
    """The status-link token on the line of the command's output that starts with `label`."""
    match = re.search(rf"^{re.escape(label)}.*/s/([A-Za-z0-9_-]{{43}})$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


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
    assert f"password for {COORDINATOR_EMAIL}, {ADMIN_EMAIL} and {CLINIC_EMAIL}: {PASSWORD}" in seeded.output
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
    # Seeding queues only the documents (test_the_worker_renders_every_demo_document):
    # no email, no routing or assignment jobs.
    assert set(db.session.scalars(select(OutboxMessage.job))) == DOCUMENT_JOBS
    assert "documents (confirmations, dossiers, quotes, booking papers) queued" in seeded.output

    # A patient's status link, to see the other side of a question.
    token = printed_token(seeded.output, "a patient's view of")
    waiting = db.session.scalar(select(Case).where(Case.token_hash == hash_token(token)))
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
        if c.status in AFTER_CHOICE or c.closed_reason == "booked":
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
    users, quotes_before, referrals = count(User), count(Quote), count(Referral)
    assert users == 3 and quotes_before > 0
    again = run(app, "--password", "another password 999")
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    assert len(demo_cases()) == before
    assert (count(User), count(Quote), count(Referral)) == (users, quotes_before, referrals)
    assert f"{CLINIC_EMAIL} already exists; its password was not changed" in again.output
    assert f"clinic portal: sign in as {CLINIC_EMAIL}" in again.output
    assert db.session.scalar(select(func.count(User.id)).where(User.email.in_([COORDINATOR_EMAIL, ADMIN_EMAIL]))) == 2
    coordinator = db.session.scalar(select(User).where(User.email == COORDINATOR_EMAIL))
    assert verify_password(coordinator.password_hash, PASSWORD)
    assert f"{COORDINATOR_EMAIL} already exists; its password was not changed" in again.output
    assert f"{before} demo cases already exist; no cases were added" in again.output
    assert "password for" not in again.output


def test_a_password_is_generated_when_none_is_given(app, db_session):
    result = run(app)
    assert result.exit_code == 0, result.output
    password = re.search(rf"password for {COORDINATOR_EMAIL}, {ADMIN_EMAIL} and {CLINIC_EMAIL}: (\S+)",
                         result.output).group(1)
    assert len(password) >= 12
    for email in (COORDINATOR_EMAIL, CLINIC_EMAIL):
        user = db.session.scalar(select(User).where(User.email == email))
        assert verify_password(user.password_hash, password)


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
    assert data.response.responded and data.response.waiting
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


# --------------------------------------------------------------------------- quotes and the clinic portal


def _offer(referral: Referral) -> ClinicTreatment:
    return next(o for o in referral.clinic.offers if o.treatment_id == referral.case.treatment_id)


def test_accepted_referrals_carry_a_realistic_quote_and_the_others_none(seeded):
    referrals = demo_referrals()
    accepted = [r for r in referrals if r.status == ReferralStatus.ACCEPTED]
    assert len(accepted) >= 10
    prices_off_the_list = 0
    for r in referrals:
        if r.status != ReferralStatus.ACCEPTED:
            assert r.quotes == [], (r.case.reference, r.clinic.slug, r.status)
            continue
        assert [q.version for q in r.quotes] == [1], (r.case.reference, r.clinic.slug)
        quote = r.quotes[0]
        assert quotes.current(r) is quote and quote.counts
        answered = r.responded_at.date()
        assert quote.created_at == r.responded_at
        # What the portal would have accepted from the clinic on the day it answered.
        terms = quotes.Terms(price=quote.price, currency=quote.currency, earliest_date=quote.earliest_date,
                             stay_days=quote.stay_days, valid_until=quote.valid_until, includes=quote.includes,
                             notes=quote.notes)
        assert quotes.check_terms(terms, answered)["includes"] == quote.includes
        assert set(quote.includes) <= set(quotes.INCLUDES) and "treatment" in quote.includes
        assert answered <= quote.earliest_date <= answered + timedelta(days=90)
        assert 1 <= quote.stay_days <= 60
        assert answered < quote.valid_until <= answered + timedelta(days=120)
        offer = _offer(r)
        # The clinic's indicative price, and a little more, in its own currency.
        assert quote.currency == offer.currency
        assert offer.price_from * Decimal("0.95") <= quote.price <= offer.price_from * 2, r.clinic.slug
        prices_off_the_list += quote.price != offer.price_from
        # The timeline says so, at the same moment, as `quotes.accept` records it.
        event = next(e for e in r.case.events if e.kind == "clinic_quoted" and e.details["referral_id"] == r.id)
        assert event.created_at == r.responded_at
        assert event.details["price"] == str(quote.price) and event.details["currency"] == quote.currency
        assert event.actor.startswith("clinic:")
    assert prices_off_the_list >= len(accepted) // 2
    assert len({tuple(r.quotes[0].includes) for r in accepted}) >= 3
    declined = [r for r in referrals if r.status == ReferralStatus.DECLINED]
    assert declined and all(r.decline_reason for r in declined)
    for r in declined:
        event = next(e for e in r.case.events if e.kind == "clinic_declined" and e.details["referral_id"] == r.id)
        assert event.created_at == r.responded_at and event.details["reason"] == r.decline_reason
    assert not any(e.kind == "clinic_answered" for c in demo_cases() for e in c.events)


def test_chosen_cases_point_at_a_quote_of_their_own_accepted_referral(seeded):
    chosen_by = Counter()
    for c in demo_cases():
        picked = [e for e in c.events if e.kind == "status_changed" and e.details["new"] == CaseStatus.CHOSEN]
        if not picked:
            assert c.chosen_quote_id is None, c.reference
            continue
        assert c.status in AFTER_CHOICE or c.closed_reason == "booked", c.reference
        quote = c.chosen_quote
        assert quote is not None, c.reference
        assert quote.referral.case_id == c.id and quote.referral.status == ReferralStatus.ACCEPTED
        assert quote.referral_id == picked[-1].details["referral_id"]
        assert quotes.current(quote.referral) is quote
        assert quote.valid_until >= picked[-1].created_at.date()  # it could be chosen that day
        if picked[-1].actor == "patient":
            assert picked[-1].details["quote_id"] == quote.id
        chosen_by[picked[-1].actor == "patient"] += 1
    assert chosen_by[True] and chosen_by[False]  # on the status page, and recorded by staff


def test_a_clinic_account_for_the_clinic_with_most_referrals_waiting(client, seeded):
    user = db.session.scalar(select(User).where(User.email == CLINIC_EMAIL))
    assert user.role == "clinic" and user.active and user.clinic_id is not None
    assert verify_password(user.password_hash, PASSWORD)
    waiting = Counter(
        r.clinic_id for r in demo_referrals()
        if r.status == ReferralStatus.PENDING and r.case.status in quotes.CHOOSABLE
    )
    assert waiting[user.clinic_id] >= 1 and waiting[user.clinic_id] == max(waiting.values())
    assert (f"clinic portal: sign in as {CLINIC_EMAIL} ({user.clinic.name}) at http://127.0.0.1:8000/clinic/login"
            in seeded.output)

    # The clinic signs in with the printed address and the demo password and finds work.
    signed_in = client.post("/clinic/login", data={"email": CLINIC_EMAIL, "password": PASSWORD})
    assert signed_in.status_code == 303, signed_in.text
    page = client.get("/clinic/referrals")
    assert page.status_code == 200
    pending = next(r for r in demo_referrals() if r.clinic_id == user.clinic_id and r.status == ReferralStatus.PENDING
                   and r.case.status in quotes.CHOOSABLE)
    assert pending.case.reference in page.text and "Waiting for your answer" in page.text
    assert client.get(f"/clinic/referrals/{pending.id}").status_code == 200


def test_the_printed_patient_can_choose_between_two_clinics(client, seeded):
    today = datetime.now(timezone.utc).date()
    token = printed_token(seeded.output, "a patient with quotes to compare")
    case = db.session.scalar(select(Case).where(Case.token_hash == hash_token(token)))
    assert case.status == CaseStatus.ROUTED and case.status in quotes.CHOOSABLE
    assert case.chosen_quote_id is None
    open_quotes = [(r, q) for r, q in quotes.comparison(case, today) if q.valid_until >= today]
    assert len({r.clinic_id for r, _ in open_quotes}) >= 2
    assert f"a patient with quotes to compare ({case.reference}): " in seeded.output

    page = client.get(f"/s/{token}")
    assert page.status_code == 200
    for _, quote in open_quotes:
        assert f"/s/{token}/quotes/{quote.id}/choose" in page.text


def test_a_clinic_account_is_added_to_demo_data_seeded_before_it_existed(app, seeded):
    db.session.execute(delete(User).where(User.email == CLINIC_EMAIL))
    db.session.commit()
    again = run(app, "--password", "another password 999")
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.email == CLINIC_EMAIL))
    assert user.role == "clinic" and verify_password(user.password_hash, "another password 999")
    assert f"password for {CLINIC_EMAIL}: another password 999" in again.output
    assert count(User) == 3


@pytest.fixture
def own_redis(app, tmp_path, monkeypatch):
    """A Redis of this test's own for the seed to relay to (no other test's worker takes its jobs)."""
    with private_redis(tmp_path) as url:
        monkeypatch.setitem(app.config, "REDIS_URL", url)
        monkeypatch.setitem(app.config, "JOB_RETRY_INTERVALS", [])
        app.extensions.pop("redis", None)
        yield url
        app.extensions.pop("redis", None)


def test_the_worker_renders_every_demo_document(app, db_session, own_redis, caplog):
    """A newcomer opening a demo referral finds its dossier, not "being prepared" forever:
    the seed queues the documents the real flows would have, and the worker renders them."""
    result = run(app, "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    caplog.set_level("INFO", logger="service.notifications")
    run_worker(app)

    jobs = list(db.session.scalars(select(OutboxMessage)))
    assert jobs and {j.status for j in jobs} == {DONE}, {(j.job, j.status, j.last_error) for j in jobs}
    slots = {(d.case_id, d.slot) for d in db.session.scalars(select(Document))}
    cases, referrals = demo_cases(), demo_referrals()
    assert referrals
    for referral in referrals:
        assert (referral.case_id, f"dossier:{referral.id}") in slots
    for case in cases:
        assert (case.id, "confirmation") in slots
        quoted = db.session.scalar(select(func.count(Quote.id)).join(Referral).where(Referral.case_id == case.id))
        assert ((case.id, "quote_comparison") in slots) == bool(quoted), case.reference
        chosen = case.chosen_quote is not None
        assert ((case.id, "booking_summary") in slots) == chosen, case.reference
        travellers = db.session.scalar(select(func.count(Traveller.id)).where(Traveller.case_id == case.id))
        letters = {slot for case_id, slot in slots if case_id == case.id and slot.startswith("visa_letter:")}
        assert len(letters) == (travellers if chosen else 0), case.reference
    assert any(case.chosen_quote is not None for case in cases)
    # Every clinic was told of its referral when it was made (in the story), so the
    # dossiers' follow-ups sent no email now.
    told = {(n.referral_id, n.recipient, n.status) for n in db.session.scalars(
        select(Notification).where(Notification.kind == CLINIC_REFERRAL))}
    assert told == {(r.id, r.clinic.email, SENT) for r in referrals}
    assert not [r for r in caplog.records if "email not sent" in r.getMessage()]
    assert any(j.job == Job.NOTIFY_CLINIC for j in jobs)

    # The demo clinic's portal shows the dossier of a waiting referral, ready to open.
    client = app.test_client()
    signed_in = client.post("/clinic/login", data={"email": CLINIC_EMAIL, "password": PASSWORD})
    assert signed_in.status_code == 303, signed_in.text
    clinic_user = db.session.scalar(select(User).where(User.email == CLINIC_EMAIL))
    waiting = next(r for r in referrals if r.clinic_id == clinic_user.clinic_id and r.status == ReferralStatus.PENDING)
    page = client.get(f"/clinic/referrals/{waiting.id}")
    assert page.status_code == 200
    assert 'id="dossier-link"' in page.text and "being prepared" not in page.text


def test_every_demo_case_records_the_consent_version(seeded):
    assert {c.consent_version for c in demo_cases()} == {CONSENT_VERSION}
