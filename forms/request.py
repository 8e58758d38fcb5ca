"""The patient's request form. The same form validates the HTML page and the API."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import phonenumbers
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional

from forms import choices
from forms.files import FileBatchMixin
from service import limits
from service.cases.intake import RequestData
from service.models import Clinic, Treatment

FREE_TEXT_MAX = 2000
BUDGET_MAX = Decimal("10000000")


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _blank_to_none(value: object) -> object:
    """Blank means "not answered"; any text, "none known" included, is an answer."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class RequestForm(FileBatchMixin, FlaskForm):
    full_name = StringField(
        "Full name",
        filters=[_strip],
        validators=[InputRequired("Enter your full name."), Length(max=200)],
    )
    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[
            InputRequired("Enter your email address."),
            Email("Enter a valid email address, like name@example.com.", check_deliverability=False),
            Length(max=254),
        ],
    )
    phone = TelField(
        "Phone (optional)",
        filters=[_blank_to_none],
        description="With country code, e.g. +49 30 123456",
    )
    country = SelectField("Country you live in", validate_choice=False)
    date_of_birth = DateField("Date of birth (optional)", validators=[Optional()])
    language = SelectField("Preferred language for contact", validate_choice=False)
    treatment = SelectField("Treatment", validate_choice=False)
    preferred_clinic = SelectField("Preferred clinic (optional)", validate_choice=False)
    description = TextAreaField(
        "Describe your situation",
        filters=[_strip],
        validators=[
            InputRequired("Describe your situation and what you are looking for."),
            Length(
                min=limits.DESCRIPTION_MIN,
                max=limits.DESCRIPTION_MAX,
                message=(
                    f"Write between {limits.DESCRIPTION_MIN} and {limits.DESCRIPTION_MAX} "
                    "characters (you wrote %(length)d)."
                ),
            ),
        ],
    )
    travel_window = StringField(
        "When could you travel? (optional)",
        filters=[_blank_to_none],
        validators=[Optional(), Length(max=200)],
    )
    budget = DecimalField(
        "Budget (optional)",
        places=2,
        validators=[
            Optional(),
            NumberRange(min=Decimal("1"), max=BUDGET_MAX, message="Enter an amount between 1 and 10,000,000."),
        ],
    )
    budget_currency = SelectField("Currency", validate_choice=False)
    medications = TextAreaField(
        "Current medications (optional)",
        filters=[_blank_to_none],
        validators=[Optional(), Length(max=FREE_TEXT_MAX)],
    )
    allergies = TextAreaField(
        "Allergies (optional)",
        filters=[_blank_to_none],
        validators=[Optional(), Length(max=FREE_TEXT_MAX)],
    )
    conditions = TextAreaField(
        "Other medical conditions (optional)",
        filters=[_blank_to_none],
        validators=[Optional(), Length(max=FREE_TEXT_MAX)],
    )
    consent = BooleanField(
        "I consent to Medtour processing the health information in this request "
        "to arrange my treatment, and sharing it with the clinics it selects for me.",
        validators=[InputRequired("You must consent before we can process your request.")],
    )
    files = MultipleFileField("Medical files (optional)")
    # Honeypot: hidden from people by CSS, filled in by naive bots.
    website = StringField("Leave this field empty")

    def __init__(self, *args, treatments: list[Treatment], clinics: list[Clinic], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._treatments = {t.slug: t for t in treatments}
        self._clinics = {c.slug: c for c in clinics}
        self.accepted_files = []
        self.file_problems = []
        self.country.choices = [("", "Select your country")] + choices.countries()
        self.language.choices = [("", "Select a language")] + choices.languages()
        self.treatment.choices = [("", "Select a treatment")] + [
            (t.slug, t.name) for t in treatments
        ]
        self.preferred_clinic.choices = [("", "No preference — choose for me")] + [
            (c.slug, f"{c.name} — {c.city}") for c in clinics
        ]
        self.budget_currency.choices = [("", "Currency")] + choices.currencies()

    # -- field checks --------------------------------------------------------

    def validate_phone(self, field: TelField) -> None:
        if not field.data:
            return
        region = self.country.data or None
        try:
            number = phonenumbers.parse(field.data, region)
        except phonenumbers.NumberParseException as exc:
            raise ValidationError(
                "Enter the phone number with its country code, e.g. +49 30 123456."
            ) from exc
        if not phonenumbers.is_valid_number(number):
            raise ValidationError("This is not a valid phone number; check the country code and digits.")
        field.data = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def validate_country(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError("Select the country you live in.")
        if field.data not in choices.codes(choices.countries()):
            raise ValidationError("Select a country from the list (ISO 3166-1 code).")

    def validate_language(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError("Select the language we should contact you in.")
        if field.data not in choices.codes(choices.languages()):
            raise ValidationError("Select a language from the list (ISO 639-1 code).")

    def validate_date_of_birth(self, field: DateField) -> None:
        if field.data is None:
            return
        today = date.today()
        if field.data >= today:
            raise ValidationError("The date of birth must be in the past.")
        if today.year - field.data.year > 125:
            raise ValidationError("Check the year of birth.")

    def validate_treatment(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError("Select the treatment you are looking for.")
        if field.data not in self._treatments:
            raise ValidationError("Select a treatment from the list.")

    def validate_preferred_clinic(self, field: SelectField) -> None:
        if not field.data:
            return
        clinic = self._clinics.get(field.data)
        if clinic is None:
            raise ValidationError("Select a clinic from the list, or leave it to us.")
        treatment = self._treatments.get(self.treatment.data or "")
        if treatment is not None and not clinic.offers_treatment(treatment.id):
            raise ValidationError(
                f"{clinic.name} does not offer {treatment.name}; choose another clinic or leave it to us."
            )

    def validate_budget_currency(self, field: SelectField) -> None:
        if field.data and field.data not in choices.codes(choices.currencies()):
            raise ValidationError("Select a currency from the list (ISO 4217 code).")
        if self.budget.data is not None and not field.data:
            raise ValidationError("Select the currency of your budget.")

    def validate_website(self, field: StringField) -> None:
        if field.data:
            raise ValidationError("Leave this field empty.")

    # -- results -------------------------------------------------------------

    @property
    def selected_treatment(self) -> Treatment:
        return self._treatments[self.treatment.data]

    @property
    def selected_clinic(self) -> Clinic | None:
        return self._clinics.get(self.preferred_clinic.data or "")

    def request_data(self) -> RequestData:
        return RequestData(
            full_name=self.full_name.data,
            email=self.email.data,
            phone=self.phone.data,
            country=self.country.data,
            date_of_birth=self.date_of_birth.data,
            language=self.language.data,
            treatment=self.selected_treatment,
            preferred_clinic=self.selected_clinic,
            description=self.description.data,
            travel_window=self.travel_window.data,
            budget=self.budget.data,
            budget_currency=(self.budget_currency.data or None) if self.budget.data is not None else None,
            medications=self.medications.data,
            allergies=self.allergies.data,
            conditions=self.conditions.data,
        )
