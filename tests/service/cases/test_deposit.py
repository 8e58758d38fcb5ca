"""The deposit's rules: who can be invoiced, the invoice's number and reference, partial
payments, an over-payment refused with the outstanding amount named, refunds capped at
what was paid, cancelling only what is unpaid, the sums in Decimal to the cent, and a
timeline event and outbox job for each change."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from service.cases import deposit, erasure
from service.cases.deposit import DepositRefused, InvoiceStatus
from service.cases.events import EventKind, describe
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import CaseEvent, OutboxMessage, Payment
from service.outbox import Job
from tests.fixtures.cases import make_case
from tests.fixtures.invoices import due_day, issued
from tests.fixtures.staff import make_user
from tests.fixtures.trips import chosen_case

TODAY = due_day(0)


def kinds(case) -> list[str]:
    return list(db.session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def test_issuing_numbers_the_invoice_after_the_case_and_records_its_render(db_session):
    case = chosen_case()
    invoice = issued(case, amount="1500", due_on=due_day(17))
    assert invoice.number == f"{case.reference}-D1"
    assert invoice.payment_reference == invoice.number and len(invoice.payment_reference) <= 35
    assert invoice.amount == Decimal("1500.00") and invoice.currency == "EUR"
    second = issued(case, amount="250.50", currency="usd")
    assert second.number == f"{case.reference}-D2" and second.currency == "USD"
    assert kinds(case)[-2:] == [EventKind.INVOICE_ISSUED, EventKind.INVOICE_ISSUED]
    event = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                       CaseEvent.kind == EventKind.INVOICE_ISSUED)).first()
    assert describe(event, staff=True) == (
        f"Deposit invoice {invoice.number} issued: 1,500.00 EUR due by {due_day(17).isoformat()}")
    jobs = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id,
                                                               OutboxMessage.job == Job.RENDER_INVOICE)))
    assert [j.payload["invoice_id"] for j in jobs] == [invoice.id, second.id]


def test_a_cancelled_invoice_keeps_its_number_taken(db_session):
    case = chosen_case()
    first = issued(case)
    deposit.cancel_invoice(first, None)
    db.session.commit()
    assert issued(case).number == f"{case.reference}-D2"


@pytest.mark.parametrize("status", [CaseStatus.ROUTED, CaseStatus.CLOSED])
def test_only_a_case_whose_patient_chose_can_be_invoiced(db_session, status):
    case = chosen_case()
    case.status = status
    db.session.commit()
    with pytest.raises(DepositRefused, match="only once the patient has chosen a quote"):
        issued(case)
    with pytest.raises(DepositRefused, match="only once the patient has chosen"):
        issued(make_case(status=CaseStatus.ROUTED))


def test_the_trip_statuses_after_the_choice_can_be_invoiced_if_the_state_machine_has_them():
    assert CaseStatus.CHOSEN in deposit.BILLABLE and CaseStatus.CLOSED not in deposit.BILLABLE
    for later in ("travel_booked", "in_treatment", "returned"):
        assert (later in {s.value for s in deposit.BILLABLE}) == (later in {s.value for s in CaseStatus})


@pytest.mark.parametrize(("amount", "currency", "due", "field", "message"), [
    ("0", "EUR", 5, "amount", "must be more than zero"),
    ("-3", "EUR", 5, "amount", "must be more than zero"),
    ("12.345", "EUR", 5, "amount", "at most two decimal places"),
    ("lots", "EUR", 5, "amount", "enter a number"),
    ("10000000000", "EUR", 5, "amount", "must be less than 10,000,000,000"),
    ("100", "EURO", 5, "currency", "ISO 4217"),
    ("100", "EUR", -1, "due_on", "cannot be in the past"),
])
def test_bad_terms_are_refused_at_their_field(db_session, amount, currency, due, field, message):
    case = chosen_case()
    with pytest.raises(DepositRefused) as refused:
        issued(case, amount=amount, currency=currency, due_on=due_day(due))
    assert message in refused.value.errors[field]
    assert deposit.invoices_of(case) == []


def test_partial_payments_add_up_to_paid_in_decimal(db_session):
    invoice = issued(amount="1000.10")
    deposit.record_payment(invoice, None, amount="0.10", received_on=TODAY)
    deposit.record_payment(invoice, None, amount="0.20", received_on=TODAY)
    db.session.commit()
    view = deposit.invoice_view(invoice)
    # 0.1 + 0.2 is 0.30000000000000004 in floats; the sums are exact.
    assert (view.paid, view.outstanding, view.status) == (Decimal("0.30"), Decimal("999.80"), InvoiceStatus.PART_PAID)
    assert all(isinstance(x, Decimal) for x in (view.paid, view.refunded, view.outstanding))
    deposit.record_payment(invoice, None, amount="999.80", received_on=TODAY)
    db.session.commit()
    view = deposit.invoice_view(invoice)
    assert (view.outstanding, view.status) == (Decimal("0.00"), InvoiceStatus.PAID)
    assert kinds(invoice_case(invoice)).count(EventKind.PAYMENT_RECORDED) == 3


def invoice_case(invoice):
    from service.models import Case

    return db.session.get(Case, invoice.case_id)


def test_a_payment_beyond_what_is_due_is_refused_naming_the_outstanding_amount(db_session):
    invoice = issued(amount="1500")
    deposit.record_payment(invoice, None, amount="1000", received_on=TODAY)
    db.session.commit()
    with pytest.raises(DepositRefused) as refused:
        deposit.record_payment(invoice, None, amount="600", received_on=TODAY)
    assert refused.value.errors["amount"] == (
        f"600.00 EUR is more than the outstanding 500.00 EUR on invoice {invoice.number}.")
    db.session.rollback()
    assert deposit.invoice_view(invoice).paid == Decimal("1000.00")
    deposit.record_payment(invoice, None, amount="500", received_on=TODAY)
    db.session.commit()
    with pytest.raises(DepositRefused, match="Nothing is outstanding"):
        deposit.record_payment(invoice, None, amount="1", received_on=TODAY)


def test_a_payment_day_in_the_future_is_refused(db_session):
    invoice = issued()
    with pytest.raises(DepositRefused) as refused:
        deposit.record_payment(invoice, None, amount="1", received_on=TODAY + timedelta(days=1))
    assert "future" in refused.value.errors["received_on"]


def test_a_refund_is_capped_at_what_was_paid_and_a_full_refund_settles_the_invoice(db_session):
    invoice = issued(amount="1500")
    with pytest.raises(DepositRefused, match="nothing to refund"):
        deposit.record_refund(invoice, None, amount="1", received_on=TODAY)
    deposit.record_payment(invoice, None, amount="800", received_on=TODAY)
    db.session.commit()
    with pytest.raises(DepositRefused) as refused:
        deposit.record_refund(invoice, None, amount="800.01", received_on=TODAY)
    assert refused.value.errors["amount"] == f"800.01 EUR is more than the 800.00 EUR paid on invoice {invoice.number}."
    db.session.rollback()
    deposit.record_refund(invoice, None, amount="300", received_on=TODAY, note="Patient postponed")
    db.session.commit()
    view = deposit.invoice_view(invoice)
    assert (view.paid, view.refunded, view.net_paid, view.outstanding, view.status) == (
        Decimal("800.00"), Decimal("300.00"), Decimal("500.00"), Decimal("1000.00"), InvoiceStatus.PART_PAID)
    deposit.record_refund(invoice, None, amount="500", received_on=TODAY)
    db.session.commit()
    view = deposit.invoice_view(invoice)
    assert (view.net_paid, view.outstanding, view.status) == (Decimal("0.00"), Decimal("0.00"), InvoiceStatus.REFUNDED)
    assert kinds(invoice_case(invoice)).count(EventKind.REFUND_RECORDED) == 2


def test_an_invoice_past_its_due_date_with_money_outstanding_is_overdue(db_session):
    invoice = issued(amount="100", due_on=TODAY)
    assert deposit.invoice_view(invoice, TODAY).status == InvoiceStatus.DUE
    assert deposit.invoice_view(invoice, TODAY + timedelta(days=1)).status == InvoiceStatus.OVERDUE
    deposit.record_payment(invoice, None, amount="100", received_on=TODAY)
    db.session.commit()
    assert deposit.invoice_view(invoice, TODAY + timedelta(days=1)).status == InvoiceStatus.PAID


def test_only_an_unpaid_invoice_can_be_cancelled(db_session):
    invoice = issued(amount="100")
    deposit.record_payment(invoice, None, amount="10", received_on=TODAY)
    db.session.commit()
    with pytest.raises(DepositRefused, match="only an unpaid invoice can be cancelled"):
        deposit.cancel_invoice(invoice, None)
    other = issued(invoice_case(invoice), amount="50")
    user = make_user()
    deposit.cancel_invoice(other, user)
    db.session.commit()
    assert deposit.invoice_view(other).status == InvoiceStatus.CANCELLED
    with pytest.raises(DepositRefused, match="cancelled; no payment"):
        deposit.record_payment(other, None, amount="1", received_on=TODAY)
    with pytest.raises(DepositRefused, match="already cancelled"):
        deposit.cancel_invoice(other, None)
    event = db.session.scalars(select(CaseEvent).where(CaseEvent.kind == EventKind.INVOICE_CANCELLED)
                               .order_by(CaseEvent.id.desc())).first()
    assert event.actor == f"staff:{user.email}"
    assert describe(event, staff=True) == f"Deposit invoice {other.number} cancelled"


def test_the_deposit_view_totals_per_currency_and_leaves_cancelled_invoices_out(db_session):
    case = chosen_case()
    eur = issued(case, amount="1500")
    usd = issued(case, amount="200", currency="USD")
    gone = issued(case, amount="999")
    deposit.record_payment(eur, None, amount="1499.99", received_on=TODAY)
    deposit.record_payment(usd, None, amount="50", received_on=TODAY)
    deposit.cancel_invoice(gone, None)
    db.session.commit()
    view = deposit.deposit_view(case)
    assert [v.status for v in view.invoices] == [InvoiceStatus.PART_PAID, InvoiceStatus.PART_PAID,
                                                 InvoiceStatus.CANCELLED]
    assert [v.number for v in view.open] == [eur.number, usd.number]
    totals = {t.currency: (t.amount, t.paid, t.outstanding) for t in view.totals}
    assert totals == {"EUR": (Decimal("1500.00"), Decimal("1499.99"), Decimal("0.01")),
                      "USD": (Decimal("200.00"), Decimal("50.00"), Decimal("150.00"))}


def test_erasure_forgets_the_notes_on_payments_and_keeps_the_sums(db_session, storage):
    invoice = issued(amount="100")
    deposit.record_payment(invoice, None, amount="100", received_on=TODAY, note="From Aigerim Nurlanova's account")
    db.session.commit()
    erasure.erase(invoice_case(invoice), storage)
    db.session.commit()
    payment = db.session.scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    assert payment.note is None and payment.amount == Decimal("100.00")
