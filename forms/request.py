"""The patient's request form. The same form validates the HTML page and the API."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Final

import phonenumbers
from babel import support
from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    Field,
    HiddenField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
    ValidationError,
)
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, StopValidation

from forms.files import FileBatchMixin, picked_files
from forms.widgets import CachedSelect
from service import choices, i18n, limits, trust, uploads
from service.cases import staging
from service.cases.intake import RequestData
from service.i18n import gettext, lazy_gettext
from service.catalog import choice
from service.catalog.choice import Choice
from service.catalog.snapshot import Catalog, ClinicEntry
from service.models import Clinic, StagedUpload, Treatment

# C0 controls but tab, newline and carriage return, and DEL: invisible, never meant, and
# PostgreSQL refuses a NUL in text outright.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


_BUDGET_RANGE = lazy_gettext("Enter an amount between 1 and 10,000,000.")


def _finite_budget(_form: object, field: DecimalField) -> None:
    """Decimal takes "NaN", "sNaN" and "Infinity", and NumberRange cannot compare them
    (a signalling NaN raises): such an amount is refused before the range is checked."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation(_BUDGET_RANGE)


def _too_long(limit: int) -> Length:
    """The limit and what was written, in the page's language."""
    return Length(max=limit, message=lazy_gettext("Write at most %(max)d characters (you wrote %(length)d)."))


def _strip(value: object) -> object:
    return _CONTROLS.sub("", value).strip() if isinstance(value, str) else value


def _blank_to_none(value: object) -> object:
    """Blank means "not answered"; any text, "none known" included, is an answer."""
    if isinstance(value, str):
        value = _CONTROLS.sub("", value).strip()
        return value or None
    return value


class RepeatedIdsField(Field):
    """A repeated form field (``upload_ids=a&upload_ids=b``): the list of its non-blank values.
    Rendered by the template as hidden inputs, never by the field itself."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = [v.strip() for v in valuelist if isinstance(v, str) and v.strip()]

    def process_data(self, value: object) -> None:
        self.data = list(value) if isinstance(value, (list, tuple)) else []


@dataclass(frozen=True)
class _CatalogueLists:
    """The form's lists that depend on the catalogue and the page's language only: made
    once per catalogue reading and language (`Catalog.derived`), not on every page view."""

    languages: list[tuple[str, str]]
    treatments: list[tuple[str, str]]
    # Each clinic, its "name — place" label and its treatments' slugs (data-treatments).
    clinics: tuple[tuple[ClinicEntry, str, str], ...]
    language_codes: frozenset[str]

    @classmethod
    def make(cls, catalog: Catalog, language: str) -> _CatalogueLists:
        # Related treatments together (by category), each category's names in the page's collation.
        named = [(t.category, t.slug, t.text("name", language)) for t in catalog.treatments]
        by_name = choices.sort_key(language)
        slugs = {t.id: t.slug for t in catalog.treatments}
        languages = choices.contact_languages(language, {code for clinic in catalog.clinics for code in clinic.languages})
        return cls(
            languages=languages,
            language_codes=choices.codes(languages),
            treatments=[(slug, name) for _category, slug, name in sorted(named, key=lambda t: (t[0], by_name(t[2])))],
            clinics=tuple(
                (clinic, f"{clinic.name} — {clinic.place(language)}",
                 " ".join(slugs[o.treatment_id] for o in clinic.offers if o.treatment_id in slugs))
                for clinic in catalog.clinics
            ),
        )


class _TranslationsPerLanguage:
    """WTForms' own messages (a date that does not parse, say) in the page's language:
    flask-wtf reads their catalogue from disk on every request that builds a form; this
    reads it once per language."""

    def gettext(self, string: str) -> str:
        return _wtforms_catalogue(i18n.current_language()).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalogue(i18n.current_language()).ungettext(singular, plural, n)


@cache
def _wtforms_catalogue(language: str) -> support.Translations:
    return support.Translations.load(messages_path(), [language], domain="wtforms")


_WTFORMS_MESSAGES: Final = _TranslationsPerLanguage()


class RequestForm(FileBatchMixin, FlaskForm):
    class Meta:
        def get_translations(self, form: object) -> _TranslationsPerLanguage | None:
            return _WTFORMS_MESSAGES if current_app.config.get("WTF_I18N_ENABLED", True) else None

    full_name = StringField(
        lazy_gettext("Full name"),
        filters=[_strip],
        # DataRequired: what is left after the filters counts, so spaces or controls alone are no name.
        validators=[DataRequired(lazy_gettext("Enter your full name.")), _too_long(limits.NAME_MAX)],
    )
    email = EmailField(
        lazy_gettext("Email"),
        filters=[_strip],
        validators=[
            InputRequired(lazy_gettext("Enter your email address.")),
            Email(lazy_gettext("Enter a valid email address, like name@example.com."), check_deliverability=False),
            _too_long(limits.EMAIL_MAX),
        ],
    )
    phone = TelField(
        lazy_gettext("Phone (optional)"),
        filters=[_blank_to_none],
        description=lazy_gettext("With country code, e.g. +49 30 123456"),
    )
    country = SelectField(lazy_gettext("Country you live in"), validate_choice=False, widget=CachedSelect())
    date_of_birth = DateField(lazy_gettext("Date of birth (optional)"), validators=[Optional()])
    language = SelectField(lazy_gettext("Preferred language for contact"), validate_choice=False, widget=CachedSelect())
    treatment = SelectField(lazy_gettext("Treatment"), validate_choice=False)
    preferred_clinic = SelectField(lazy_gettext("Preferred clinic (optional)"), validate_choice=False)
    description = TextAreaField(
        lazy_gettext("Describe your situation"),
        filters=[_strip],
        validators=[
            InputRequired(lazy_gettext("Describe your situation and what you are looking for.")),
            Length(
                min=limits.DESCRIPTION_MIN,
                max=limits.DESCRIPTION_MAX,
                # Length fills in min, max and length.
                message=lazy_gettext("Write between %(min)d and %(max)d characters (you wrote %(length)d)."),
            ),
        ],
    )
    travel_window = StringField(
        lazy_gettext("When could you travel? (optional)"),
        filters=[_blank_to_none],
        validators=[Optional(), _too_long(limits.TRAVEL_WINDOW_MAX)],
    )
    budget = DecimalField(
        lazy_gettext("Budget (optional)"),
        places=2,
        validators=[
            Optional(),
            _finite_budget,
            NumberRange(min=Decimal(1), max=limits.BUDGET_MAX, message=_BUDGET_RANGE),
        ],
    )
    budget_currency = SelectField(lazy_gettext("Currency"), validate_choice=False, widget=CachedSelect())
    medications = TextAreaField(
        lazy_gettext("Current medications (optional)"),
        filters=[_blank_to_none],
        validators=[Optional(), _too_long(limits.FREE_TEXT_MAX)],
    )
    allergies = TextAreaField(
        lazy_gettext("Allergies (optional)"),
        filters=[_blank_to_none],
        validators=[Optional(), _too_long(limits.FREE_TEXT_MAX)],
    )
    conditions = TextAreaField(
        lazy_gettext("Other medical conditions (optional)"),
        filters=[_blank_to_none],
        validators=[Optional(), _too_long(limits.FREE_TEXT_MAX)],
    )
    # The wording is versioned in service.trust; intake records the version with the case.
    consent = BooleanField(
        lazy_gettext(trust.CONSENT_TEXT),
        validators=[InputRequired(lazy_gettext("You must consent before we can process your request."))],
    )
    # Ids of files already sent with the resumable upload (tus, service/blueprints/tus.py).
    upload_ids = RepeatedIdsField(lazy_gettext("Files already uploaded"))
    files = MultipleFileField(lazy_gettext("Medical files (optional)"))
    # A random token per rendered form: the same form sent twice (a double click, the back
    # button and resend) makes one case (service/cases/idempotency.py).
    submission_token = HiddenField()
    # Honeypot: hidden from people by CSS, filled in by naive bots.
    website = StringField(lazy_gettext("Leave this field empty"))

    def __init__(self, *args, catalog: Catalog, upload_owner: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._choice: Choice | None = None
        self._upload_owner = upload_owner
        self.accepted_files = []
        self.file_problems = []
        self.staged_uploads: list[StagedUpload] = []
        # The names in the page's language (English for the API, which never chooses one).
        language = i18n.current_language()
        self._catalog = catalog
        self._lists = catalog.derived(("request form", language), lambda: _CatalogueLists.make(catalog, language))
        self.country.choices = [("", gettext("Select your country"))] + choices.countries_in(language)
        self.language.choices = [("", gettext("Select a language"))] + self._lists.languages
        self.treatment.choices = [("", gettext("Select a treatment"))] + self._lists.treatments
        self.narrow_clinics()
        self.budget_currency.choices = [("", gettext("Currency"))] + choices.currencies_in(language)

    def prefill(self, treatment: str | None, clinic: str | None) -> None:
        """A link's choice (`/requests/new?treatment=<slug>&clinic=<slug>`, a catalogue
        page's "Request treatment here"), and the clinic list narrowed to it."""
        if treatment:
            self.treatment.data = treatment
        if clinic:
            self.preferred_clinic.data = clinic
        self.narrow_clinics()

    def narrow_clinics(self) -> None:
        """The preferred-clinic list: clinics accepting requests, each carrying the slugs
        of its treatments (data-treatments, which clinic-choice.js narrows by as the
        patient picks a treatment); once a treatment is chosen, the clinics that do not
        offer it are hidden, except the one picked (its error names the mismatch)."""
        chosen = self._catalog.treatment(self.treatment.data or "")
        picked = self.preferred_clinic.data
        options: list[tuple[str, str] | tuple[str, str, dict[str, object]]] = [
            ("", gettext("No preference — choose for me"))
        ]
        for clinic, label, offered in self._lists.clinics:
            if not clinic.accepting and clinic.slug != picked:
                continue
            attributes: dict[str, object] = {"data-treatments": offered}
            if chosen is not None and not clinic.offers_treatment(chosen.id) and clinic.slug != picked:
                attributes.update(hidden=True, disabled=True)
            options.append((clinic.slug, label, attributes))
        self.preferred_clinic.choices = options

    def _chosen(self) -> Choice:
        """The treatment and clinic as the database has them now: one query per submission."""
        if self._choice is None:
            self._choice = choice.look_up(self.treatment.data or "", self.preferred_clinic.data or "")
        return self._choice

    # -- field checks --------------------------------------------------------

    def validate_phone(self, field: TelField) -> None:
        if not field.data:
            return
        region = self.country.data or None
        try:
            number = phonenumbers.parse(field.data, region)
        except phonenumbers.NumberParseException as exc:
            raise ValidationError(
                gettext("Enter the phone number with its country code, e.g. +49 30 123456.")
            ) from exc
        if not phonenumbers.is_valid_number(number):
            raise ValidationError(gettext("This is not a valid phone number; check the country code and digits."))
        field.data = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def validate_country(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError(gettext("Select the country you live in."))
        if field.data not in choices.country_codes():
            raise ValidationError(gettext("Select a country from the list (ISO 3166-1 code)."))

    def validate_language(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError(gettext("Select the language we should contact you in."))
        if field.data not in self._lists.language_codes:
            raise ValidationError(gettext("Select a language from the list (ISO 639-1 code)."))

    def validate_date_of_birth(self, field: DateField) -> None:
        if field.data is None:
            return
        today = date.today()
        if field.data >= today:
            raise ValidationError(gettext("The date of birth must be in the past."))
        if today.year - field.data.year > 125:
            raise ValidationError(gettext("Check the year of birth."))

    def validate_treatment(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError(gettext("Select the treatment you are looking for."))
        if self._chosen().treatment is None:
            raise ValidationError(gettext("Select a treatment from the list."))

    def validate_preferred_clinic(self, field: SelectField) -> None:
        if not field.data:
            return
        chosen = self._chosen()
        clinic, treatment = chosen.clinic, chosen.treatment
        if clinic is None:
            raise ValidationError(gettext("Select a clinic from the list, or leave it to us."))
        if treatment is not None and not chosen.offered:
            raise ValidationError(gettext(
                "%(clinic)s does not offer %(treatment)s; choose another clinic or leave it to us.",
                clinic=clinic.name, treatment=treatment.text("name"),
            ))

    def validate_budget_currency(self, field: SelectField) -> None:
        if field.data and field.data not in choices.currency_codes():
            raise ValidationError(gettext("Select a currency from the list (ISO 4217 code)."))
        if self.budget.data is not None and not field.data:
            raise ValidationError(gettext("Select the currency of your budget."))

    def validate_upload_ids(self, field: RepeatedIdsField) -> None:
        """Only this browser's completed uploads; each one that cannot be attached is named."""
        from service.store import get_storage

        self.staged_uploads, problems = staging.claim(self._upload_owner, field.data or [], get_storage())
        field.errors.extend(problems)
        field.errors.extend(p.message for p in uploads.duplicate_problems(self._staged_digests()))

    def _staged_digests(self) -> list[tuple[str, str]]:
        return [(u.filename, u.sha256 or "") for u in self.staged_uploads]

    def validate_files(self, field: MultipleFileField) -> None:
        """The file limit counts the files picked now and those already uploaded together."""
        picked = len(picked_files(field.data))
        too_many = uploads.count_problem(picked + len(self.staged_uploads), 0, current_app.config["MAX_FILES"])
        if too_many:
            self.accepted_files = []
            self.file_problems = [too_many]
            field.errors.append(too_many.message)
            return
        super().validate_files(field)
        # The same contents twice (picked twice, or picked again after it was uploaded):
        # named here, against the files before it; the uploads already staged stay staged.
        staged = self._staged_digests()
        picked_now = [(f.filename, uploads.sha256_of(f.stream)) for f in self.accepted_files]
        twice = uploads.duplicate_problems(staged + picked_now, start=len(staged))
        self.file_problems.extend(twice)
        field.errors.extend(p.message for p in twice)

    def validate_website(self, field: StringField) -> None:
        if field.data:
            raise ValidationError(gettext("Leave this field empty."))

    # -- results -------------------------------------------------------------

    @property
    def selected_treatment(self) -> Treatment:
        treatment = self._chosen().treatment
        if treatment is None:
            raise LookupError("only a validated form has a selected treatment")
        return treatment

    @property
    def selected_clinic(self) -> Clinic | None:
        return self._chosen().clinic if self.preferred_clinic.data else None

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
            consent_version=trust.CONSENT_VERSION,
        )
