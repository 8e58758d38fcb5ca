"""The case file's Deposit section: issue a pro-forma invoice (`POST
/staff/cases/<reference>/invoices`), record a payment or a refund against one (`POST
.../invoices/<id>/payments`) and cancel an unpaid one (`POST .../invoices/<id>/cancel`).

The section is part of the case file (`staff/case/_deposit.html`, included by
`staff/case/show.html`) and draws its invoices and forms from `deposit_panel`, a
template global; a refused form renders the case file with that form as it was sent
(what was typed stays, each message beside its field). The rules are in
`service.cases.deposit`; this module parses, commits, relays and answers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from flask import Blueprint, abort, flash, g, redirect, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from forms.staff_deposit import CancelInvoiceForm, InvoiceForm, PaymentForm
from service import outbox
from service.accounts.guard import current_staff, staff_required
from service.blueprints import private, staff_case
from service.cases import deposit
from service.extensions import db
from service.models import Case, Invoice
from service.models.invoice import PaymentKind

bp = Blueprint("staff_deposit", __name__, url_prefix="/staff/cases")
bp.after_request(private)

ISSUE: Final = "invoice"
_FAILED: Final = "staff_deposit_failed"


def payment_failure(invoice_id: int) -> str:
    return f"payment-{invoice_id}"


def cancel_failure(invoice_id: int) -> str:
    return f"cancel-{invoice_id}"


@dataclass(frozen=True)
class DepositPanel:
    """What the Deposit section shows: the invoices with their sums, whether one can be
    issued now, and a form per action (the refused one as it was sent)."""

    view: deposit.DepositView
    can_issue: bool
    issue_form: InvoiceForm
    payment_forms: dict[int, PaymentForm] = field(default_factory=dict)


@bp.app_template_global()
def deposit_panel(case: Case) -> DepositPanel:
    failed: tuple[str, FlaskForm] | None = g.get(_FAILED)
    view = deposit.deposit_view(case)
    issue_form = failed[1] if failed and failed[0] == ISSUE else InvoiceForm(formdata=None)
    forms = {}
    for item in view.invoices:
        name = payment_failure(item.invoice.id)
        forms[item.invoice.id] = failed[1] if failed and failed[0] == name else PaymentForm(formdata=None)
    return DepositPanel(view=view, can_issue=deposit.can_issue(case), issue_form=issue_form, payment_forms=forms)


def _problem(form: FlaskForm) -> str:
    return " ".join(f"{f.label.text}: {m}" for f in form if f.errors for m in f.errors) or \
        "The form could not be read; reload the case and try again."


def _refused(case: Case, name: str, form: FlaskForm, message: str,
             errors: dict[str, str] | None = None, status: int = 422) -> tuple[str, int]:
    """The case file again, with `form` as sent and each message beside its field."""
    for key, text in (errors or {}).items():
        target = getattr(form, key, None)
        if target is not None:
            target.errors = [text]
    g.setdefault(_FAILED, (name, form))
    return staff_case._render(case, status, error=message, failed=name)


def _invoice_or_404(case: Case, invoice_id: int) -> Invoice:
    invoice = deposit.invoice_of(case, invoice_id)
    if invoice is None:
        abort(404)
    return invoice


def _done(case: Case, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("staff_case.show", reference=case.reference, _anchor="deposit"), code=303)


@bp.post("/<reference>/invoices")
@staff_required()
def issue(reference: str) -> Response | tuple[str, int]:
    """Issue a pro-forma invoice; its PDF is rendered and the patient e-mailed by the workers."""
    case = staff_case._case_or_404(reference)
    form = InvoiceForm()
    if not form.validate_on_submit():
        return _refused(case, ISSUE, form, _problem(form))
    try:
        invoice = deposit.issue_invoice(case, current_staff(), amount=form.amount.data,
                                        currency=form.currency.data or "", due_on=form.due_on.data)
        outbox.commit()
    except deposit.DepositRefused as exc:
        db.session.rollback()
        return _refused(case, ISSUE, form, str(exc), exc.errors)
    return _done(case, f"Invoice {invoice.number} issued: {deposit.money(invoice.amount)} {invoice.currency}. "
                       "Its PDF is being prepared; the patient is e-mailed once it is ready.")


@bp.post("/<reference>/invoices/<int:invoice_id>/payments")
@staff_required()
def payment(reference: str, invoice_id: int) -> Response | tuple[str, int]:
    """Record a bank transfer received (partial allowed) or a refund paid back."""
    case = staff_case._case_or_404(reference)
    invoice = _invoice_or_404(case, invoice_id)
    form = PaymentForm()
    name = payment_failure(invoice.id)
    if not form.validate_on_submit():
        return _refused(case, name, form, _problem(form))
    record = deposit.record_refund if form.kind.data == PaymentKind.REFUND else deposit.record_payment
    try:
        recorded = record(invoice, current_staff(), amount=form.amount.data, received_on=form.received_on.data,
                          note=form.note.data)
        outbox.commit()
    except deposit.DepositRefused as exc:
        db.session.rollback()
        return _refused(case, name, form, str(exc), exc.errors)
    db.session.refresh(invoice)
    left = deposit.invoice_view(invoice).outstanding
    what = "Refund" if recorded.kind == PaymentKind.REFUND else "Payment"
    return _done(case, f"{what} of {deposit.money(recorded.amount)} {invoice.currency} recorded on {invoice.number}; "
                       f"outstanding now {deposit.money(left)} {invoice.currency}.")


@bp.post("/<reference>/invoices/<int:invoice_id>/cancel")
@staff_required()
def cancel(reference: str, invoice_id: int) -> Response | tuple[str, int]:
    """Cancel an invoice with nothing paid on it."""
    case = staff_case._case_or_404(reference)
    invoice = _invoice_or_404(case, invoice_id)
    form = CancelInvoiceForm()
    name = cancel_failure(invoice.id)
    if not form.validate_on_submit():
        return _refused(case, name, form, _problem(form))
    try:
        deposit.cancel_invoice(invoice, current_staff())
        outbox.commit()
    except deposit.DepositRefused as exc:
        db.session.rollback()
        return _refused(case, name, form, str(exc))
    return _done(case, f"Invoice {invoice.number} cancelled.")
