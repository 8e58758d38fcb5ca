"""The deposit: pro-forma invoices staff issue once the patient chose a quote, and the
bank transfers (payments) and refunds they record against them. No card is processed.

The rules, in one place: an invoice asks for a positive amount in an ISO 4217 currency,
due on a day not past, numbered `<reference>-D<n>` (n counts the case's invoices,
cancelled ones included, so a number is never reused) and carrying the payment
reference the patient writes on the transfer (the number itself). A payment may be
partial but never more than what is outstanding; a refund never more than what was
paid and not yet refunded; only an invoice with nothing paid on it can be cancelled.
All money is `Decimal` to the cent. Each change writes its timeline event; issuing
records the PDF's render (`Job.RENDER_INVOICE`), whose job e-mails the patient once the
PDF is stored. The caller ends with `service.outbox.commit()`; nothing here commits."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final

from sqlalchemy import func, select, update

from service.cases import events
from service.cases.status import CaseStatus
from service.choices import currency_codes
from service.extensions import db
from service.limits import MAX_PRICE
from service.models import Case, Invoice, Payment, User
from service.models.invoice import PaymentKind
from service.outbox import Job, record

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")
# The statuses from "chosen" on that are not closed (the trip's, where the state machine has them).
_FROM_CHOICE: Final = ("chosen", "travel_booked", "in_treatment", "returned")
BILLABLE: Final = frozenset(status for status in CaseStatus if status.value in _FROM_CHOICE)
PAYMENT_REFERENCE_MAX: Final = 35
NOTE_MAX_CHARS: Final = 200


class DepositRefused(ValueError):
    """Bad input or a change not allowed now. `errors` maps form field names to messages
    (empty when the refusal is about the invoice's or the case's state)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class InvoiceStatus(StrEnum):
    DUE = "due"
    PART_PAID = "part-paid"
    PAID = "paid"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"

    @property
    def staff_label(self) -> str:
        return {"part-paid": "Part-paid"}.get(self.value, self.value.capitalize())


def _today() -> date:
    return datetime.now(timezone.utc).date()


def money(value: Decimal) -> str:
    """"1,500.00": the staff console's and the timeline's form of an amount."""
    return f"{value:,.2f}"


def parse_amount(raw: Decimal | str | None, *, what: str = "The amount") -> Decimal:
    """A positive amount to the cent, below `MAX_PRICE` (what NUMERIC(12, 2) holds).
    Raises `DepositRefused` with the message for the field."""
    try:
        amount = Decimal(str(raw if raw is not None else "").strip().replace(",", ""))
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise DepositRefused(f"{what}: enter a number, for example 1500 or 1500.50.") from None
    if amount <= 0:
        raise DepositRefused(f"{what} must be more than zero.")
    if amount >= MAX_PRICE:
        raise DepositRefused(f"{what} must be less than {MAX_PRICE:,}.")
    if amount != amount.quantize(CENT):
        raise DepositRefused(f"{what}: use at most two decimal places.")
    return amount.quantize(CENT)


# ---------------------------------------------------------------- read model


@dataclass(frozen=True)
class InvoiceView:
    """One invoice with its sums: `paid` is every payment, `refunded` every refund,
    `outstanding` what the patient still owes (nothing once cancelled or refunded)."""

    invoice: Invoice
    paid: Decimal
    refunded: Decimal
    outstanding: Decimal
    status: InvoiceStatus
    payments: tuple[Payment, ...]

    @property
    def number(self) -> str:
        return self.invoice.number

    @property
    def amount(self) -> Decimal:
        return self.invoice.amount

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def net_paid(self) -> Decimal:
        """What the agency holds: paid less refunded."""
        return self.paid - self.refunded

    @property
    def cancellable(self) -> bool:
        return self.status != InvoiceStatus.CANCELLED and self.paid == ZERO

    @property
    def payable(self) -> bool:
        return self.status != InvoiceStatus.CANCELLED and self.outstanding > ZERO

    @property
    def refundable(self) -> bool:
        return self.net_paid > ZERO


@dataclass(frozen=True)
class Totals:
    """The sums of one currency's invoices, cancelled ones left out."""

    currency: str
    amount: Decimal = ZERO
    paid: Decimal = ZERO
    refunded: Decimal = ZERO
    outstanding: Decimal = ZERO

    @property
    def net_paid(self) -> Decimal:
        return self.paid - self.refunded


@dataclass(frozen=True)
class DepositView:
    invoices: tuple[InvoiceView, ...]
    totals: tuple[Totals, ...] = field(default=())  # one per currency, in order of first invoice

    @property
    def open(self) -> tuple[InvoiceView, ...]:
        return tuple(view for view in self.invoices if view.status != InvoiceStatus.CANCELLED)


def invoice_view(invoice: Invoice, today: date | None = None) -> InvoiceView:
    today = today or _today()
    payments = tuple(invoice.payments)
    paid = sum((p.amount for p in payments if p.kind == PaymentKind.PAYMENT), ZERO)
    refunded = sum((p.amount for p in payments if p.kind == PaymentKind.REFUND), ZERO)
    net = paid - refunded
    if invoice.cancelled_at is not None:
        status, outstanding = InvoiceStatus.CANCELLED, ZERO
    elif refunded > ZERO and net == ZERO:
        status, outstanding = InvoiceStatus.REFUNDED, ZERO
    else:
        outstanding = max(invoice.amount - net, ZERO)
        if outstanding == ZERO:
            status = InvoiceStatus.PAID
        elif invoice.due_on < today:
            status = InvoiceStatus.OVERDUE
        elif net > ZERO:
            status = InvoiceStatus.PART_PAID
        else:
            status = InvoiceStatus.DUE
    return InvoiceView(invoice=invoice, paid=paid, refunded=refunded, outstanding=outstanding, status=status,
                       payments=payments)


def invoices_of(case: Case) -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(Invoice.case_id == case.id).order_by(Invoice.id)))


def deposit_view(case: Case, today: date | None = None) -> DepositView:
    """Every invoice of the case, oldest first, with its status and sums, and the totals
    per currency (amounts in different currencies are never added up)."""
    views = tuple(invoice_view(invoice, today) for invoice in invoices_of(case))
    totals: dict[str, Totals] = {}
    for view in views:
        if view.status == InvoiceStatus.CANCELLED:
            continue
        sums = totals.get(view.currency, Totals(view.currency))
        totals[view.currency] = Totals(
            view.currency, sums.amount + view.amount, sums.paid + view.paid,
            sums.refunded + view.refunded, sums.outstanding + view.outstanding,
        )
    return DepositView(views, tuple(totals.values()))


def invoice_of(case: Case, invoice_id: int) -> Invoice | None:
    """The case's invoice `invoice_id`, or None (another case's invoice is no invoice here)."""
    invoice = db.session.get(Invoice, invoice_id)
    return invoice if invoice is not None and invoice.case_id == case.id else None


# ---------------------------------------------------------------- changes


def can_issue(case: Case) -> bool:
    return case.status in BILLABLE and case.chosen_quote_id is not None and case.erased_at is None \
        and case.erasure_requested_at is None


def _lock(case: Case) -> None:
    """Serialise the case's invoice numbering (a row lock on PostgreSQL; SQLite writes
    one at a time anyway)."""
    db.session.execute(select(Case.id).where(Case.id == case.id).with_for_update())


def invoice_number(reference: str, n: int) -> str:
    return f"{reference}-D{n}"


def issue_invoice(case: Case, user: User | None, *, amount: Decimal | str, currency: str, due_on: date | None,
                  today: date | None = None) -> Invoice:
    """A pro-forma invoice for the deposit, recorded with its event and its PDF's render."""
    today = today or _today()
    if not can_issue(case):
        raise DepositRefused("A deposit invoice can be issued only once the patient has chosen a quote, "
                             "and not for a closed or erased case.")
    errors: dict[str, str] = {}
    try:
        value = parse_amount(amount)
    except DepositRefused as exc:
        errors["amount"] = str(exc)
    code = (currency or "").strip().upper()
    if code not in currency_codes():
        errors["currency"] = "Choose the currency by its ISO 4217 code, for example EUR, USD or TRY."
    if due_on is None:
        errors["due_on"] = "Enter the due date."
    elif due_on < today:
        errors["due_on"] = "The due date cannot be in the past."
    if errors:
        raise DepositRefused("The invoice has problems: " + " ".join(errors.values()), errors)
    _lock(case)
    count = db.session.scalar(select(func.count(Invoice.id)).where(Invoice.case_id == case.id)) or 0
    number = invoice_number(case.reference, count + 1)
    invoice = Invoice(case_id=case.id, number=number, amount=value, currency=code, due_on=due_on,
                      payment_reference=number[:PAYMENT_REFERENCE_MAX], issued_by_id=user.id if user else None)
    db.session.add(invoice)
    db.session.flush()
    events.record_event(case, _actor(user), events.EventKind.INVOICE_ISSUED, invoice_id=invoice.id, number=number,
                        amount=money(value), currency=code, due_on=due_on.isoformat())
    record(Job.RENDER_INVOICE, case_id=case.id, invoice_id=invoice.id)
    return invoice


def _actor(user: User | None) -> str:
    return events.Actor.user(user) if user is not None else events.Actor.SYSTEM


def _received(received_on: date | None, today: date, errors: dict[str, str]) -> None:
    if received_on is None:
        errors["received_on"] = "Enter the day the money moved."
    elif received_on > today:
        errors["received_on"] = "The day cannot be in the future."


def _note(note: str | None, errors: dict[str, str]) -> str | None:
    text = " ".join((note or "").split())
    if len(text) > NOTE_MAX_CHARS:
        errors["note"] = f"The note can be at most {NOTE_MAX_CHARS} characters (this is {len(text)})."
    return text or None


def record_payment(invoice: Invoice, user: User | None, *, amount: Decimal | str, received_on: date | None,
                   note: str | None = None, today: date | None = None) -> Payment:
    """A bank transfer received: partial is fine, more than is outstanding is refused."""
    today = today or _today()
    view = invoice_view(invoice, today)
    if view.status == InvoiceStatus.CANCELLED:
        raise DepositRefused(f"Invoice {invoice.number} is cancelled; no payment can be recorded against it.")
    if view.outstanding == ZERO:
        raise DepositRefused(f"Nothing is outstanding on invoice {invoice.number}; no payment can be recorded.")
    errors: dict[str, str] = {}
    value = ZERO
    try:
        value = parse_amount(amount)
    except DepositRefused as exc:
        errors["amount"] = str(exc)
    else:
        if value > view.outstanding:
            errors["amount"] = (f"{money(value)} {invoice.currency} is more than the outstanding "
                                f"{money(view.outstanding)} {invoice.currency} on invoice {invoice.number}.")
    _received(received_on, today, errors)
    text = _note(note, errors)
    if errors:
        raise DepositRefused("The payment has problems: " + " ".join(errors.values()), errors)
    return _add(invoice, user, PaymentKind.PAYMENT, value, received_on, text, events.EventKind.PAYMENT_RECORDED)


def record_refund(invoice: Invoice, user: User | None, *, amount: Decimal | str, received_on: date | None,
                  note: str | None = None, today: date | None = None) -> Payment:
    """Money paid back to the patient: never more than was paid and not yet refunded."""
    today = today or _today()
    view = invoice_view(invoice, today)
    if view.net_paid == ZERO:
        raise DepositRefused(f"Nothing has been paid on invoice {invoice.number}; there is nothing to refund.")
    errors: dict[str, str] = {}
    value = ZERO
    try:
        value = parse_amount(amount, what="The refund")
    except DepositRefused as exc:
        errors["amount"] = str(exc)
    else:
        if value > view.net_paid:
            errors["amount"] = (f"{money(value)} {invoice.currency} is more than the "
                                f"{money(view.net_paid)} {invoice.currency} paid on invoice {invoice.number}.")
    _received(received_on, today, errors)
    text = _note(note, errors)
    if errors:
        raise DepositRefused("The refund has problems: " + " ".join(errors.values()), errors)
    return _add(invoice, user, PaymentKind.REFUND, value, received_on, text, events.EventKind.REFUND_RECORDED)


def _add(invoice: Invoice, user: User | None, kind: PaymentKind, value: Decimal, received_on: date,
         note: str | None, event: events.EventKind) -> Payment:
    payment = Payment(invoice=invoice, kind=kind.value, amount=value, received_on=received_on, note=note,
                      recorded_by_id=user.id if user else None)
    db.session.add(payment)
    db.session.flush()
    case = db.session.get(Case, invoice.case_id)
    events.record_event(case, _actor(user), event, invoice_id=invoice.id, number=invoice.number,
                        amount=money(value), currency=invoice.currency, received_on=received_on.isoformat())
    return payment


def cancel_invoice(invoice: Invoice, user: User | None, today: date | None = None) -> None:
    """Withdraw an invoice on which nothing was paid (refund the payments first)."""
    view = invoice_view(invoice, today)
    if view.status == InvoiceStatus.CANCELLED:
        raise DepositRefused(f"Invoice {invoice.number} is already cancelled.")
    if view.paid > ZERO:
        raise DepositRefused(f"Invoice {invoice.number} has payments recorded; only an unpaid invoice can be "
                             "cancelled (record a refund instead).")
    invoice.cancelled_at = datetime.now(timezone.utc)
    case = db.session.get(Case, invoice.case_id)
    events.record_event(case, _actor(user), events.EventKind.INVOICE_CANCELLED, invoice_id=invoice.id,
                        number=invoice.number)


def forget_notes(case: Case, invoices: Iterable[Invoice] | None = None) -> None:
    """Erasure: staff's notes on payments can name the payer; amounts and dates stay (bookkeeping)."""
    ids = [i.id for i in (invoices if invoices is not None else invoices_of(case))]
    if ids:
        db.session.execute(update(Payment).where(Payment.invoice_id.in_(ids)).values(note=None))
