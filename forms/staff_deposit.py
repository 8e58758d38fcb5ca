"""The case file's Deposit forms: issue an invoice, record a payment or a refund, cancel.
They only parse what staff typed; what is allowed is decided by
`service.cases.deposit` (its `DepositRefused.errors` are shown next to these fields)."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length

from service.cases.deposit import NOTE_MAX_CHARS
from service.choices import currencies
from service.models.invoice import PaymentKind


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class InvoiceForm(FlaskForm):
    """`POST /staff/cases/<reference>/invoices`."""

    amount = StringField("Amount", filters=[_strip], validators=[InputRequired("Enter the amount.")],
                         description="For example 1500 or 1500.50.")
    currency = SelectField("Currency", validate_choice=False)
    due_on = DateField("Due by", validators=[InputRequired("Enter the due date (YYYY-MM-DD).")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = [SelectChoice("", "Choose…")] + [SelectChoice(c, label) for c, label in currencies()]


class PaymentForm(FlaskForm):
    """`POST /staff/cases/<reference>/invoices/<id>/payments`: a payment or a refund."""

    kind = SelectField("Kind", choices=[SelectChoice(PaymentKind.PAYMENT.value, "Payment received"),
                                        SelectChoice(PaymentKind.REFUND.value, "Refund paid back")],
                       validators=[AnyOf([k.value for k in PaymentKind], message="Choose payment or refund.")])
    amount = StringField("Amount", filters=[_strip], validators=[InputRequired("Enter the amount.")])
    received_on = DateField("On", validators=[InputRequired("Enter the day the money moved (YYYY-MM-DD).")])
    note = StringField("Note (optional)", filters=[_strip], validators=[Length(max=NOTE_MAX_CHARS)],
                       description="For example the bank's transaction id.")


class CancelInvoiceForm(FlaskForm):
    """`POST /staff/cases/<reference>/invoices/<id>/cancel`: the CSRF token is the form."""
