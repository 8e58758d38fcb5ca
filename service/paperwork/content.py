"""What goes into each document, as plain data built from ORM objects.

The builders read attributes only (``case.reference``, ``referral.clinic.name``...), so
they take ORM rows or any object shaped like them, and the result is detached from
the database session: the renderer never touches the database.

The dossier is what a clinic needs to quote, and nothing more. It never holds the
patient's name, email, phone or birth date (only the age), and by default it strips
those identifiers from the free text the patient typed, too; ``released=True`` (once
the patient has chosen the clinic) adds the contact details and stops the redaction.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

import phonenumbers
import pycountry

from service import limits
from service.i18n import human_size
from service.paperwork import wording
from service.uploads import PILLOW_TYPES

NOT_PROVIDED: Final = "not provided"
REDACTED: Final = "[redacted]"

PDF_TYPES: Final = frozenset({"application/pdf"})
# Decoded for a figure when the file has no worker-made preview (`AttachmentEntry.preview_key`).
IMAGE_TYPES: Final = PILLOW_TYPES


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class AttachmentEntry:
    """One of the patient's files, as the documents list it.

    Shaped like ``Attachment`` (``storage_key``, ``filename``, ``content_type``, ``size``,
    ``sha256``), so it is what ``build_dossier_pdf`` hands to its ``attachment_bytes``
    callable. ``filename`` is the name to show (redacted in a dossier), ``original_filename``
    the stored one.
    """

    number: int
    filename: str
    content_type: str
    size: int
    sha256: str
    storage_key: str = ""
    id: int | None = None
    link: str | None = None
    original_filename: str = ""
    # Scripts or launch actions in the PDF (``Attachment.active_content``): withheld from exhibits.
    active_content: bool = False
    # What a clinic's dossier knows of the worker's derived files (`service.cases.derivatives.
    # ClinicFile`): why the file is not there yet or at all, its preview, a disc's series.
    withheld: str | None = None
    preview_key: str = ""
    preview_sha256: str = ""
    studies: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = ()

    @property
    def type_label(self) -> str:
        return limits.ACCEPTED_TYPES.get(self.content_type.split(";")[0].strip().lower(), "File")

    @property
    def size_label(self) -> str:
        return human_size(self.size)

    @property
    def is_pdf(self) -> bool:
        return self.content_type in PDF_TYPES

    @property
    def is_image(self) -> bool:
        return self.content_type in IMAGE_TYPES


@dataclass(frozen=True)
class PatientContact:
    full_name: str
    email: str
    phone: str | None


@dataclass(frozen=True)
class DossierContent:
    reference: str
    clinic_name: str
    clinic_location: str
    prepared_on: date
    age: str                      # "47 years" or "not provided"; never the birth date
    country: str                  # "Kazakhstan (KZ)"
    language: str                 # "Russian (ru)"
    treatment: str
    description: str
    medications: str              # as typed ("none known"), or "not provided"
    allergies: str
    conditions: str
    travel_window: str
    referral_reasons: tuple[str, ...]   # why the case suits the clinic, in plain words
    attachments: tuple[AttachmentEntry, ...]
    portal_url: str | None = None       # the referral's page in the clinic portal, where clinics answer
    contact: PatientContact | None = None   # only when released

    @property
    def released(self) -> bool:
        return self.contact is not None


@dataclass(frozen=True)
class ConfirmationContent:
    reference: str
    language: str                 # "en" or "ru": the one the text is in
    received_on: date
    treatment: str
    files: tuple[AttachmentEntry, ...]
    contact_email: str
    # AUTO_ROUTE=1: the case goes to the clinics at once, a coordinator reviewing it alongside.
    routed_at_once: bool = True


@dataclass(frozen=True)
class QuoteEntry:
    """One clinic's counting quote as the patient's documents show it."""

    clinic_name: str
    city: str
    country: str                  # the country's name in the document's language
    accreditations: tuple[str, ...]
    price: Decimal
    currency: str
    includes: tuple[str, ...]     # keys of `service.models.quotes.INCLUDES`
    earliest_date: date
    stay_days: int
    valid_until: date
    expired: bool
    notes: str
    clinic_email: str = ""
    # The price converted into the comparison's currency, in words ("≈ 10,212 USD at the
    # rate of 30 November 2026"); "" when the quote is already in it.
    converted: str = ""
    rate_missing: bool = False

    @property
    def location(self) -> str:
        return ", ".join(part for part in (self.city, self.country) if part)

    @property
    def end_date(self) -> date:
        """The day the stay ends: ``stay_days`` after the earliest date (a 7-day stay
        from 1 May ends on 8 May), the span a visa must cover."""
        return self.earliest_date + timedelta(days=self.stay_days)


@dataclass(frozen=True)
class _PatientDocument:
    reference: str
    language: str                 # "en" or "ru": the one the text is in
    prepared_on: date
    treatment: str


@dataclass(frozen=True)
class QuoteComparisonContent(_PatientDocument):
    quotes: tuple[QuoteEntry, ...] = ()
    currency: str = ""            # the currency the quotes are compared in ("" : as quoted)


@dataclass(frozen=True)
class BookingSummaryContent(_PatientDocument):
    patient_name: str = ""
    quote: QuoteEntry | None = None
    files: tuple[str, ...] = ()          # the names of the files the patient sent
    medications: str | None = None       # as typed, when the patient answered
    allergies: str | None = None
    contact_email: str = ""


# --------------------------------------------------------------------------- builders


def dossier_content(
    case: Any,
    referral: Any,
    attachments: Iterable[Any],
    link_for: Callable[[Any], str],
    *,
    released: bool = False,
    reasons: Sequence[str] | None = None,
    portal_url: str | None = None,
    today: date | None = None,
) -> DossierContent:
    """The dossier for one referral. ``link_for(attachment)`` gives each file's
    time-limited download link; ``reasons`` overrides the plain-words reasons made
    from the routing components stored on the referral (`suits_reasons`);
    ``portal_url`` is where the clinic answers."""
    today = today or datetime.now(timezone.utc).date()
    redact = _identity if released else _redactor(case)
    clinic = referral.clinic
    entries = _entries(attachments, shown=lambda a: redact(a.filename) or "file", link_for=link_for)
    treatment = case.treatment.name
    if reasons is None:
        reasons = suits_reasons(
            getattr(referral, "reasons", None) or [], treatment=treatment, language=case.language,
            clinic_languages=getattr(clinic, "languages", None) or (),
        )
    return DossierContent(
        reference=case.reference,
        clinic_name=clinic.name,
        clinic_location=_location(getattr(clinic, "city", None), getattr(clinic, "country", None)),
        prepared_on=today,
        age=age_label(case.date_of_birth, today),
        country=country_label(case.country),
        language=language_label(case.language),
        treatment=treatment,
        description=redact(case.description or "").strip() or NOT_PROVIDED,
        medications=answer(redact(case.medications) if case.medications else None),
        allergies=answer(redact(case.allergies) if case.allergies else None),
        conditions=answer(redact(case.conditions) if case.conditions else None),
        travel_window=answer(case.travel_window),
        referral_reasons=tuple(r for r in (redact(r) for r in reasons) if r),
        attachments=entries,
        portal_url=portal_url,
        contact=PatientContact(case.full_name, case.email, case.phone) if released else None,
    )


def confirmation_content(
    case: Any, attachments: Iterable[Any], contact_email: str, *, routed_at_once: bool = True
) -> ConfirmationContent:
    """The patient's confirmation, in their language (English for languages we lack);
    ``routed_at_once`` is `AUTO_ROUTE`, what it says happens next."""
    received = getattr(case, "created_at", None) or datetime.now(timezone.utc)
    files = _entries(attachments, shown=lambda a: a.filename)
    return ConfirmationContent(
        reference=case.reference,
        language=wording.resolve(case.language),
        received_on=received.date() if isinstance(received, datetime) else received,
        treatment=case.treatment.text("name", wording.resolve(case.language)),
        files=files,
        contact_email=contact_email,
        routed_at_once=routed_at_once,
    )


def quote_entry(referral: Any, quote: Any, language: str, today: date) -> QuoteEntry:
    """A referral's quote, with its clinic's details, in ``language``."""
    clinic = referral.clinic
    return QuoteEntry(
        clinic_name=clinic.name,
        city=clinic.text("city", language),
        country=wording.country_name(getattr(clinic, "country", None), language),
        accreditations=tuple(getattr(clinic, "accreditations", None) or ()),
        price=quote.price,
        currency=quote.currency,
        includes=tuple(quote.includes or ()),
        earliest_date=quote.earliest_date,
        stay_days=quote.stay_days,
        valid_until=quote.valid_until,
        expired=quote.valid_until < today,
        notes=(quote.notes or "").strip(),
        clinic_email=getattr(clinic, "email", None) or "",
    )


def converted_words(converted: Any, quote_currency: str, currency: str, language: str) -> str:
    """A quote's price in ``currency`` in the document's words: ``converted`` is shaped
    like `service.routing.fx.Converted` (amount, rate_date), None when no rate exists."""
    _ = wording.words(language)
    if converted is None:
        return _("No exchange rate for %(currency)s: this quote cannot be converted to %(target)s "
                    "and is listed last.", currency=quote_currency, target=currency)
    if converted.rate_date is None:
        return ""
    return _("≈ %(amount)s at the rate of %(date)s",
                amount=wording.format_whole_money(converted.amount, currency, language),
                date=wording.format_date(converted.rate_date, language))


def quote_comparison_content(
    case: Any, rows: Iterable[tuple[Any, ...]], *, today: date | None = None, currency: str = ""
) -> QuoteComparisonContent:
    """The patient's comparison of ``rows`` in the order `service.cases.quotes.compared`
    gives them: (referral, quote) pairs, or (referral, quote, converted) with the price
    converted into ``currency`` (None when its rate is missing)."""
    today = today or datetime.now(timezone.utc).date()
    language = wording.resolve(case.language)
    entries = []
    for referral, quote, *rest in rows:
        entry = quote_entry(referral, quote, language, today)
        if rest and currency:
            entry = replace(entry, converted=converted_words(rest[0], quote.currency, currency, language),
                            rate_missing=rest[0] is None)
        entries.append(entry)
    return QuoteComparisonContent(
        reference=case.reference,
        language=language,
        prepared_on=today,
        treatment=case.treatment.text("name", language),
        quotes=tuple(entries),
        currency=currency,
    )


def booking_summary_content(
    case: Any, quote: Any, attachments: Iterable[Any], contact_email: str, *, today: date | None = None
) -> BookingSummaryContent:
    """What the patient chose (``quote``, with its ``referral``) and what to bring."""
    today = today or datetime.now(timezone.utc).date()
    language = wording.resolve(case.language)
    return BookingSummaryContent(
        reference=case.reference,
        language=language,
        prepared_on=today,
        treatment=case.treatment.text("name", language),
        patient_name=case.full_name,
        quote=quote_entry(quote.referral, quote, language, today),
        files=tuple(a.filename for a in attachments),
        medications=_answered(case.medications),
        allergies=_answered(case.allergies),
        contact_email=contact_email,
    )


def _answered(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _entries(
    attachments: Iterable[Any],
    *,
    shown: Callable[[Any], str],
    link_for: Callable[[Any], str] | None = None,
) -> tuple[AttachmentEntry, ...]:
    """The attachments numbered from 1 as the documents list them; ``shown`` gives the name to print."""
    return tuple(
        AttachmentEntry(
            number=number,
            filename=shown(a),
            original_filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            sha256=a.sha256,
            storage_key=a.storage_key,
            id=getattr(a, "id", None),
            link=link_for(a) if link_for is not None else None,
            active_content=bool(getattr(a, "active_content", False)),
            withheld=getattr(a, "withheld", None),
            preview_key=getattr(a, "preview_key", ""),
            preview_sha256=getattr(a, "preview_sha256", ""),
            studies=getattr(a, "studies", ()),
        )
        for number, a in enumerate(attachments, start=1)
    )


# --------------------------------------------------------------------------- labels


def suits_reasons(
    components: Iterable[Any], *, treatment: str, language: str | None, clinic_languages: Iterable[str]
) -> tuple[str, ...]:
    """Why the case suits the clinic, in plain words, from the routing components stored
    on the referral (``[{"key", "points", "reason"}, ...]``, `service.routing.ranking`).

    Clinics see only what speaks for them: the patient's choice, the treatment, a shared
    language, accreditations and a budget that covers the price; never scores, caps,
    loads or their own response figures (the staff pages show those)."""
    stored = [item for item in components if isinstance(item, dict)]
    keys = {str(item.get("key", "")) for item in stored}
    reasons = ["The patient asked for your clinic"] if "preferred" in keys else []
    reasons.append(f"You offer {treatment}")
    wanted = _language_base(language)
    spoken = {_language_base(code) for code in clinic_languages}
    if wanted and wanted in spoken:
        reasons.append(f"Your team speaks {_language_name(wanted)}, the patient's language")
    elif wanted and "en" in spoken:
        reasons.append(f"Your team speaks English (the patient's language is {_language_name(wanted)})")
    for item in stored:
        key = str(item.get("key", ""))
        if key.startswith("accreditation:"):
            label = str(item.get("reason", "")).split(" (", 1)[0].strip()
            if label:
                reasons.append(label)
    if any(str(item.get("key")) == "budget" and float(item.get("points") or 0) > 0 for item in stored):
        reasons.append("The patient's budget covers your indicative price")
    return tuple(reasons)


def _language_base(code: str | None) -> str:
    return (code or "").strip().replace("_", "-").split("-", 1)[0].lower()


def _language_name(base: str) -> str:
    language = pycountry.languages.get(alpha_2=base) if len(base) == 2 else None
    return language.name if language else base


def answer(value: str | None) -> str:
    """A health question's answer as typed ("none known" is an answer); blank is "not provided"."""
    if value is None or not value.strip():
        return NOT_PROVIDED
    return value.strip()


def age_years(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def age_label(born: date | None, today: date) -> str:
    years = age_years(born, today)
    if years is None or years < 0:
        return NOT_PROVIDED
    return "1 year" if years == 1 else f"{years} years"


def country_label(code: str | None) -> str:
    if not code:
        return NOT_PROVIDED
    country = pycountry.countries.get(alpha_2=code.upper())
    return f"{country.name} ({code.upper()})" if country else code.upper()


def language_label(code: str | None) -> str:
    if not code:
        return NOT_PROVIDED
    base = code.replace("_", "-").split("-")[0].lower()
    language = pycountry.languages.get(alpha_2=base) if len(base) == 2 else None
    return f"{language.name} ({code})" if language else code


def _location(city: str | None, country: str | None) -> str:
    parts = [city] if city else []
    if country:
        found = pycountry.countries.get(alpha_2=country.upper())
        parts.append(found.name if found else country.upper())
    return ", ".join(parts)


# --------------------------------------------------------------------------- redaction


def _identity(text: str) -> str:
    return text


def _redactor(case: Any) -> Callable[[str], str]:
    """Replace the patient's own identifiers wherever they typed them: email, phone
    (with or without the country code, any separators), full name and each part of
    it, birth date in the usual numeric forms. Best effort for our text; the
    patient's files themselves are passed on as they are."""
    patterns: list[str] = []
    email = (getattr(case, "email", None) or "").strip()
    if email:
        patterns.append(re.escape(email))
    patterns.extend(_phone_patterns(getattr(case, "phone", None)))
    name = " ".join((getattr(case, "full_name", None) or "").split())
    if name:
        patterns.append(r"\s+".join(re.escape(part) for part in name.split()))
        patterns.extend(re.escape(part) for part in name.split() if len(part) >= 3)
    born = getattr(case, "date_of_birth", None)
    if born:
        d, m, y = born.day, born.month, born.year
        forms = {
            f"{y:04d}-{m:02d}-{d:02d}",
            f"{d:02d}.{m:02d}.{y:04d}", f"{d}.{m}.{y:04d}",
            f"{d:02d}/{m:02d}/{y:04d}", f"{d}/{m}/{y:04d}",
            f"{m:02d}/{d:02d}/{y:04d}", f"{m}/{d}/{y:04d}",
        }
        patterns.extend(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    if not patterns:
        return _identity
    # Longest first, and never inside a longer word or number ("Anna" in "Annabel", "_" counts as a break).
    patterns.sort(key=len, reverse=True)
    regex = re.compile(r"(?<![^\W_])(?:" + "|".join(patterns) + r")(?![^\W_])", re.IGNORECASE)

    def redact(text: str) -> str:
        return regex.sub(REDACTED, text) if text else text

    return redact


_SEP: Final = r"[\s\-.()/]*"


def _phone_patterns(phone: str | None) -> list[str]:
    """The number as typed in any grouping: international (+7 912…, 7912…) or national
    with its trunk prefix (8 912…, 020 7946…)."""
    if not phone:
        return []
    digits = re.sub(r"\D", "", phone)
    patterns = [r"\+?" + _SEP.join(digits)] if len(digits) >= 6 else []
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return patterns
    national = str(parsed.national_number)
    if len(national) >= 6:
        patterns.append(r"\+?" + _SEP.join(f"{parsed.country_code}{national}"))
        patterns.append(r"(?:[08]" + _SEP + r")?" + _SEP.join(national))
    return patterns
