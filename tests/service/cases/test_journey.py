"""Where the request stands and what the patient must do now (service/cases/journey.py),
from real cases: every step of the stepper, every action, the headline, both languages."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import select

from service import i18n
from service.accounts.roles import CLINIC
from service.cases import quotes, workflow
from service.cases.journey import COMPLETED_REASON, ActionCode, Progress, Step, journey
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Case, Clinic, Quote
from tests.fixtures.cases import make_case
from tests.fixtures.referrals import make_referral
from tests.fixtures.staff import make_user

TODAY = datetime.now(timezone.utc).date()


def terms(**changes) -> quotes.Terms:
    values = dict(price="12500", currency="EUR", earliest_date=TODAY + timedelta(days=30), stay_days=7,
                  valid_until=TODAY + timedelta(days=60), includes=["treatment", "stay"])
    values.update(changes)
    return quotes.Terms(**values)


def quoted(count: int, **case_values) -> tuple[Case, list[Quote]]:
    """A routed case with `count` clinics' accepted quotes."""
    case = make_case(status=CaseStatus.ROUTED, **case_values)
    clinics = list(db.session.scalars(select(Clinic).order_by(Clinic.slug).limit(count)))
    assert len(clinics) == count
    made = []
    for n, clinic in enumerate(clinics):
        referral = make_referral(case, clinic)
        made.append(quotes.accept(referral, terms(price=str(9000 + n * 100)), make_user(CLINIC, clinic_id=clinic.id), TODAY))
    db.session.flush()
    return case, made


def progress(case: Case) -> dict[Step, Progress]:
    return {s.step: s.progress for s in journey(case, TODAY).steps}


def at(step: Step) -> dict[Step, Progress]:
    """The stepper with `step` current: done before it, todo after it."""
    order = list(Step)
    return {s: Progress.DONE if order.index(s) < order.index(step) else
            Progress.CURRENT if s == step else Progress.TODO for s in order}


def test_a_new_request_is_received_with_nothing_to_do(db_session):
    case = make_case()
    where = journey(case, TODAY)
    assert where.current == Step.RECEIVED and progress(case) == at(Step.RECEIVED)
    assert [s.label for s in where.steps] == [
        "Request received", "Reviewing", "Clinics answering", "Choose a clinic", "Trip", "Treatment",
    ]
    assert (where.headline, where.next_action) == ("Received", None)


def test_a_request_a_coordinator_looks_at_is_reviewing(db_session):
    case = make_case(status=CaseStatus.NEEDS_ATTENTION)
    where = journey(case, TODAY)
    assert where.current == Step.REVIEWING and progress(case) == at(Step.REVIEWING)
    assert (where.headline, where.next_action) == ("Being reviewed", None)


def test_a_routed_request_without_quotes_waits_on_the_clinics(db_session):
    case = make_case(status=CaseStatus.ROUTED)
    make_referral(case)
    where = journey(case, TODAY)
    assert where.current == Step.CLINICS_ANSWERING and progress(case) == at(Step.CLINICS_ANSWERING)
    assert (where.headline, where.next_action) == ("Sent to clinics", None)


def test_quotes_waiting_make_the_patient_choose_and_the_headline_says_so(db_session):
    case, _ = quoted(2)
    where = journey(case, TODAY)
    assert where.current == Step.CHOOSE and progress(case) == at(Step.CHOOSE)
    assert where.next_action is not None
    assert where.next_action.code == ActionCode.CHOOSE_QUOTE == "choose_quote"
    assert where.next_action.text == "2 quotes are waiting: compare and choose"
    assert where.headline == "Quotes ready"
    assert "Sent to clinics" not in where.headline and "reviewing" not in where.summary


def test_one_quote_is_counted_in_the_singular(db_session):
    case, _ = quoted(1)
    assert journey(case, TODAY).next_action.text == "1 quote is waiting: compare and choose"


def test_an_expired_quote_is_nothing_to_choose(db_session):
    case, [quote] = quoted(1)
    quote.valid_until = TODAY - timedelta(days=1)
    db.session.flush()
    where = journey(case, TODAY)
    assert where.current == Step.CLINICS_ANSWERING and where.next_action is None


def test_an_open_question_comes_first_and_the_step_stays_where_the_case_works(db_session, coordinator):
    case, _ = quoted(2)
    workflow.perform(case, "request_info", coordinator, question="Which knee hurts, left or right?")
    where = journey(case, TODAY)
    assert where.next_action.code == ActionCode.ANSWER_QUESTION
    assert where.next_action.text == "Answer the coordinator's question"
    assert where.headline == "Waiting for your answer"
    assert where.current == Step.CHOOSE
    workflow.patient_answered(case, workflow.open_question(case), "The left one.")
    assert journey(case, TODAY).next_action.code == ActionCode.CHOOSE_QUOTE


def test_a_question_before_routing_keeps_the_reviewing_step(db_session, coordinator):
    case = make_case(status=CaseStatus.NEEDS_ATTENTION)
    workflow.perform(case, "request_info", coordinator, question="Do you have recent X-rays?")
    where = journey(case, TODAY)
    assert where.current == Step.REVIEWING and where.next_action.code == ActionCode.ANSWER_QUESTION


def test_a_revision_waits_for_acceptance_then_the_choice_is_next(db_session):
    case, [first, _second] = quoted(2)
    quotes.revise(first.referral, terms(price="8000"), first.created_by, TODAY)
    where = journey(case, TODAY)
    assert where.next_action.code == ActionCode.ACCEPT_REVISION
    assert where.next_action.text == "Accept or decline the revised quote"
    assert where.current == Step.CHOOSE
    quotes.accept_revision(case, quotes.latest(first.referral).id)
    assert journey(case, TODAY).next_action.code == ActionCode.CHOOSE_QUOTE


def test_after_the_choice_the_trip_is_next_and_nothing_waits(db_session):
    case, [first, second] = quoted(2)
    # A revision of the clinic the patient then does not choose asks nothing of them any more.
    quotes.revise(second.referral, terms(price="7000"), second.created_by, TODAY)
    quotes.choose(case, first.id, TODAY)
    where = journey(case, TODAY)
    assert where.current == Step.TRIP and progress(case) == at(Step.TRIP)
    assert (where.headline, where.next_action) == ("Clinic chosen", None)


def test_the_chosen_clinics_revision_asks_for_acceptance(db_session):
    case, [first, _second] = quoted(2)
    quotes.choose(case, first.id, TODAY)
    quotes.revise(first.referral, terms(stay_days=9), first.created_by, TODAY)
    where = journey(case, TODAY)
    assert where.current == Step.TRIP and where.next_action.code == ActionCode.ACCEPT_REVISION


def test_a_withdrawn_request_has_no_current_step_and_nothing_to_do(db_session):
    case, _ = quoted(2)
    quotes.withdraw(case)
    where = journey(case, TODAY)
    assert where.current is None and where.next_action is None
    assert where.headline == "Closed"
    assert Progress.CURRENT not in progress(case).values()
    assert progress(case)[Step.REVIEWING] == Progress.DONE and progress(case)[Step.CHOOSE] == Progress.TODO


def test_a_booked_request_has_every_step_done(db_session, coordinator):
    case, [first, _] = quoted(2)
    quotes.choose(case, first.id, TODAY)
    workflow.perform(case, "close", coordinator, reason=COMPLETED_REASON)  # refused if not a reason
    where = journey(case, TODAY)
    assert where.current is None and set(progress(case).values()) == {Progress.DONE}


@pytest.mark.parametrize(("count", "text"), [
    (1, "Вас ждёт 1 предложение: сравните и выберите"),
    (2, "Вас ждут 2 предложения: сравните и выберите"),
    (5, "Вас ждут 5 предложений: сравните и выберите"),
])
def test_russian_counts_the_quotes_in_its_three_forms(app: Flask, db_session, count, text):
    case, _ = quoted(count, language="ru")
    with app.test_request_context():
        i18n.use_language("ru")
        where = journey(case, TODAY)
    assert where.next_action.text == text
    assert where.headline == "Предложения готовы"
    assert [s.label for s in where.steps] == [
        "Заявка получена", "Рассмотрение", "Ответы клиник", "Выбор клиники", "Поездка", "Лечение",
    ]


def test_russian_actions_for_a_question_and_a_revision(app: Flask, db_session, coordinator):
    case, [first, _] = quoted(2, language="ru")
    quotes.revise(first.referral, terms(price="8000"), first.created_by, TODAY)
    with app.test_request_context():
        i18n.use_language("ru")
        assert journey(case, TODAY).next_action.text == "Примите или отклоните изменённое предложение"
        workflow.perform(case, "request_info", coordinator, question="Какое колено болит?")
        where = journey(case, TODAY)
    assert where.next_action.text == "Ответьте на вопрос координатора"
    assert where.headline == "Ждём вашего ответа"


def test_the_step_codes_are_stable():
    assert [str(s) for s in Step] == ["received", "reviewing", "clinics_answering", "choose", "trip", "treatment"]
    assert [str(a) for a in ActionCode] == ["answer_question", "choose_quote", "accept_revision"]


def test_a_new_requests_headline_says_what_auto_routing_does(app: Flask, db_session, monkeypatch):
    case = make_case()
    monkeypatch.setitem(app.config, "AUTO_ROUTE", True)
    assert journey(case, TODAY).summary == (
        "We are sending your request to the clinics best suited to your treatment; "
        "a coordinator reviews it alongside, usually within one working day."
    )
    monkeypatch.setitem(app.config, "AUTO_ROUTE", False)
    assert journey(case, TODAY).summary == (
        "A coordinator reviews your request and then sends it to the clinics best suited to your "
        "treatment, usually within one working day."
    )
    with app.test_request_context():
        i18n.use_language("ru")
        assert journey(case, TODAY).summary.startswith("Координатор рассмотрит вашу заявку и затем направит её")
        monkeypatch.setitem(app.config, "AUTO_ROUTE", True)
        assert journey(case, TODAY).summary.startswith("Мы направляем вашу заявку в клиники")
