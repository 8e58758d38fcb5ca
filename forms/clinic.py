"""The clinic portal's answer forms. They only parse what the clinic typed; whether an
answer is allowed and what makes a quote acceptable is decided by
`service.cases.quotes` (its `QuoteRefused.errors` are shown next to these fields)."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired
from wtforms.widgets import CheckboxInput, ListWidget

from service.cases.quotes import INCLUDES, Terms
from service.limits import NOTES_MAX_CHARS, QUESTION_MAX_CHARS, REASON_MAX_CHARS
from service.choices import currencies
from service.models import Quote


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class QuoteForm(FlaskForm):
    """Accepting with a quote, and revising it: the same terms."""

    price = StringField(
        "Price", filters=[_strip], validators=[InputRequired("Enter the price.")],
        description="The total for what is included, for example 12500 or 12500.50.",
    )
    currency = SelectField("Currency", validate_choice=False, description="ISO 4217 code.")
    includes = SelectMultipleField(
        "The price includes", choices=[SelectChoice(key, label) for key, label in INCLUDES.items()],
        validate_choice=False,
        option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False),
    )
    earliest_date = DateField("Earliest date", validators=[InputRequired("Enter the earliest date (YYYY-MM-DD).")])
    stay_days = IntegerField(
        "Length of stay (days)", validators=[InputRequired("Enter the length of stay in whole days.")]
    )
    valid_until = DateField("Valid until", validators=[InputRequired("Enter the last day the quote is valid.")])
    notes = TextAreaField(
        "Notes for the patient (optional)", filters=[_strip],
        description=f"What to bring, what is not included… up to {NOTES_MAX_CHARS:,} characters.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = [SelectChoice("", "Choose…")] + [SelectChoice(c, label) for c, label in currencies()]

    @classmethod
    def from_quote(cls, quote: Quote) -> QuoteForm:
        """Blank submission, pre-filled with a quote's terms (for a revision)."""
        return cls(
            formdata=None, price=f"{quote.price:.2f}", currency=quote.currency, includes=list(quote.includes),
            earliest_date=quote.earliest_date, stay_days=quote.stay_days, valid_until=quote.valid_until,
            notes=quote.notes,
        )

    def terms(self) -> Terms:
        return Terms(
            price=self.price.data or "", currency=self.currency.data or "", includes=list(self.includes.data or []),
            earliest_date=self.earliest_date.data, stay_days=self.stay_days.data,
            valid_until=self.valid_until.data, notes=self.notes.data or "",
        )


class DeclineForm(FlaskForm):
    reason = TextAreaField(
        "Reason for declining", filters=[_strip],
        description=f"The agency reads it; up to {REASON_MAX_CHARS:,} characters.",
    )


class AskForm(FlaskForm):
    question = TextAreaField(
        "Question for the agency", filters=[_strip],
        description=f"It lands on the agency's case timeline; up to {QUESTION_MAX_CHARS:,} characters.",
    )
