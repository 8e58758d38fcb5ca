"""Clinics' answers and the patient's choice: quote validation, versions, revisions the
patient must accept, choosing, withdrawing."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from service.accounts.roles import CLINIC
from service.cases import quotes
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import CaseEvent, Clinic, OutboxMessage, Referral
from tests.fixtures.staff import make_user
from tests.fixtures.cases import make_case

TODAY = date(2026, 3, 2)


def terms(**changes) -> quotes.Terms:
    values = dict(price="12500", currency="eur", earliest_date=TODAY + timedelta(days=30), stay_days=7,
                  valid_until=TODAY + timedelta(days=60), includes=["treatment", "stay"], notes=" Bring X-rays. ")
    values.update(changes)
    return quotes.Terms(**values)


def kinds(case) -> list[str]:
    return list(db.session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def jobs(case) -> list[str]:
    return list(db.session.scalars(
        select(OutboxMessage.job).where(OutboxMessage.case_id == case.id).order_by(OutboxMessage.id)
    ))


@pytest.fixture
def referrals(db_session):
    case = make_case(status=CaseStatus.ROUTED)
    clinics = list(db.session.scalars(select(Clinic).order_by(Clinic.slug).limit(2)))
    made = [Referral(case=case, clinic=c, score=1, reasons=[]) for c in clinics]
    db.session.add_all(made)
    db.session.flush()
    users = [make_user(CLINIC, clinic_id=c.id) for c in clinics]
    return case, made, users


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"currency": "EUX"}, "currency", "ISO 4217"),
    ({"currency": ""}, "currency", "ISO 4217"),
    ({"price": "0"}, "price", "more than zero"),
    ({"price": "-5"}, "price", "more than zero"),
    ({"price": "abc"}, "price", "as a number"),
    ({"price": "NaN"}, "price", "as a number"),
    ({"price": "10.005"}, "price", "two decimal places"),
    ({"price": "10000000000"}, "price", "less than"),
    ({"valid_until": TODAY}, "valid_until", "in the future"),
    ({"valid_until": TODAY - timedelta(days=1)}, "valid_until", "in the future"),
    ({"earliest_date": TODAY - timedelta(days=1)}, "earliest_date", "in the past"),
    ({"stay_days": 0}, "stay_days", "between 1 and"),
    ({"includes": ["stay"]}, "includes", "treatment itself"),
    ({"includes": ["treatment", "spa"]}, "includes", "spa"),
    ({"notes": "x" * 2001}, "notes", "at most 2,000"),
])
def test_bad_terms_are_refused_naming_the_field(changes, field, message):
    with pytest.raises(quotes.QuoteRefused) as refused:
        quotes.check_terms(terms(**changes), TODAY)
    assert list(refused.value.errors) == [field]
    assert message in refused.value.errors[field]


def test_good_terms_are_normalised():
    values = quotes.check_terms(terms(price="12,500.5", includes=["stay", "treatment", "stay"]), TODAY)
    assert values["price"] == Decimal("12500.50") and values["currency"] == "EUR"
    assert values["includes"] == ["treatment", "stay"] and values["notes"] == "Bring X-rays."


def test_accept_records_version_one_and_the_referral_answer(referrals):
    case, (referral, _), (user, _) = referrals
    quote = quotes.accept(referral, terms(), user, TODAY)
    assert (quote.version, quote.counts, referral.status) == (1, True, ReferralStatus.ACCEPTED)
    assert referral.responded_at is not None and quotes.current(referral) is quote
    assert kinds(case)[-1] == "clinic_quoted" and jobs(case) == ["render_quote_comparison", "notify_patient_event"]
    with pytest.raises(quotes.QuoteRefused, match="already answered"):
        quotes.accept(referral, terms(), user, TODAY)
    with pytest.raises(quotes.QuoteRefused, match="already answered"):
        quotes.decline(referral, "Full", user)


def test_decline_needs_a_reason(referrals):
    case, (referral, _), (user, _) = referrals
    with pytest.raises(quotes.QuoteRefused, match="reason"):
        quotes.decline(referral, "  ", user)
    assert referral.status == ReferralStatus.PENDING
    quotes.decline(referral, "No surgeon available in spring", user)
    assert (referral.status, referral.decline_reason) == (ReferralStatus.DECLINED, "No surgeon available in spring")
    with pytest.raises(quotes.QuoteRefused, match="Only an accepted referral"):
        quotes.revise(referral, terms(), user, TODAY)


def test_a_revision_counts_only_after_the_patient_accepts_it(referrals):
    case, (referral, _), (user, _) = referrals
    first = quotes.accept(referral, terms(), user, TODAY)
    with pytest.raises(quotes.QuoteRefused, match="changes nothing"):
        quotes.revise(referral, terms(), user, TODAY)
    second = quotes.revise(referral, terms(price="11900", includes=["treatment", "stay", "interpreter"]), user, TODAY)
    assert second.version == 2 and not second.counts
    assert quotes.current(referral) is first and quotes.pending_revision(referral) is second
    assert [(c.label, c.old, c.new) for c in quotes.changes(first, second)] == [
        ("Price", "12500.00", "11900.00"), ("Included", "Treatment, Hospital stay", "Treatment, Hospital stay, Interpreter"),
    ]
    with pytest.raises(quotes.QuoteRefused, match="Accept the clinic's revised quote"):
        quotes.choose(case, second.id, TODAY)
    quotes.accept_revision(case, second.id)
    assert second.counts and quotes.current(referral) is second and quotes.pending_revision(referral) is None
    with pytest.raises(quotes.QuoteRefused, match="latest version"):
        quotes.choose(case, first.id, TODAY)
    with pytest.raises(quotes.QuoteRefused, match="not waiting"):
        quotes.accept_revision(case, second.id)


def test_choosing_moves_the_case_on_and_queues_the_paperwork(referrals):
    case, (a, b), (user_a, user_b) = referrals
    quotes.accept(a, terms(), user_a, TODAY)
    cheaper = quotes.accept(b, terms(price="9000"), user_b, TODAY)
    assert [q for _, q in quotes.comparison(case, TODAY)] == [cheaper, quotes.current(a)]
    quotes.choose(case, cheaper.id, TODAY)
    assert case.status == CaseStatus.CHOSEN and case.chosen_quote is cheaper
    # The paperwork and the staff, then each clinic that quoted told where it stands.
    assert jobs(case)[-5:] == ["render_booking_summary", "render_visa_letter", "notify_staff_choice",
                               "notify_clinic_outcome", "notify_clinic_outcome"]
    with pytest.raises(quotes.QuoteRefused, match="only while"):
        quotes.choose(case, cheaper.id, TODAY)


def test_an_expired_quote_or_another_cases_quote_cannot_be_chosen(referrals):
    case, (a, _), (user_a, _) = referrals
    quote = quotes.accept(a, terms(valid_until=TODAY + timedelta(days=1)), user_a, TODAY)
    with pytest.raises(quotes.QuoteRefused, match="expired on"):
        quotes.choose(case, quote.id, TODAY + timedelta(days=2))
    other = make_case(status=CaseStatus.ROUTED)
    with pytest.raises(quotes.QuoteRefused, match="no such quote"):
        quotes.choose(other, quote.id, TODAY)
    assert case.status == CaseStatus.ROUTED and other.status == CaseStatus.ROUTED


def test_accepting_a_revision_of_the_chosen_quote_moves_the_choice(referrals):
    case, (a, _), (user_a, _) = referrals
    first = quotes.accept(a, terms(), user_a, TODAY)
    quotes.choose(case, first.id, TODAY)
    second = quotes.revise(a, terms(stay_days=9), user_a, TODAY)
    assert case.chosen_quote is first
    quotes.accept_revision(case, second.id)
    assert case.chosen_quote is second
    assert jobs(case).count("render_booking_summary") == 2


def test_withdrawing_closes_the_case_and_the_open_referrals(referrals):
    case, (a, b), (user_a, _) = referrals
    quotes.decline(a, "Full", user_a)
    quotes.withdraw(case)
    assert case.status == CaseStatus.CLOSED and case.closed_reason == quotes.WITHDRAWN_REASON
    assert (a.status, b.status) == (ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN)
    with pytest.raises(quotes.QuoteRefused, match="closed"):
        quotes.ask_agency(b, "Still interested?", user_a)
    with pytest.raises(quotes.QuoteRefused, match="already closed"):
        quotes.withdraw(case)


def test_a_clinic_question_goes_on_the_staff_timeline_only(referrals):
    case, (a, _), (user_a, _) = referrals
    quotes.ask_agency(a, "Is the patient diabetic?", user_a)
    event = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "clinic_question"))
    assert event.actor == f"clinic:{user_a.email}" and event.details["question"] == "Is the patient diabetic?"
    from service.cases import events
    assert "clinic_question" not in events.PATIENT_VISIBLE
