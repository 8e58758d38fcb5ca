"""The patient's documents name the treatment and the clinic's city in the document's
language (the catalogue's texts, `LocalizedTexts`), with the country in the same
language: "Валенсия, Испания", never "Valencia, Испания". The clinic's dossier stays English."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from service.paperwork import (
    booking_summary_content,
    build_confirmation_pdf,
    build_patient_pdf,
    confirmation_content,
    dossier_content,
    quote_comparison_content,
)
from service.paperwork.invoice import Agency, invoice_content
from service.paperwork.trip import build_visa_letter_pdf, visa_letter_contents
from tests.service.paperwork import fakes, pdfs

TODAY = date(2026, 11, 25)
KNEE = {"ru": {"name": "Эндопротезирование коленного сустава"}}
VALENCIA = {"ru": {"city": "Валенсия"}}
AGENCY = Agency("Medtour Patient Services GmbH", "Friedrichstraße 100, 10117 Berlin", "HRB 000000",
                "+49 30 000000", "care@medtour.test", "Bank", "DE89370400440532013000", "COBADEFFXXX")
NAMES = {
    "en": ("Total knee replacement", "Valencia, Spain"),
    "ru": ("Эндопротезирование коленного сустава", "Валенсия, Испания"),
}


def case(language: str) -> fakes.Case:
    return fakes.Case(language=language, treatment=fakes.Treatment(
        name="Total knee replacement", slug="knee-replacement", translations=KNEE))


def valencia() -> fakes.Clinic:
    return fakes.Clinic(name="Costa Salud Hospital", city="Valencia", country="ES", translations=VALENCIA)


def text(data: bytes) -> str:
    return pdfs.flat(" ".join(pdfs.page_texts(data)))


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_confirmation_names_the_treatment_in_the_patients_language(language):
    content = confirmation_content(case(language), [], "care@medtour.test")
    treatment, _ = NAMES[language]
    assert content.treatment == treatment
    assert treatment in text(build_confirmation_pdf(content).data)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_comparison_and_the_booking_summary_name_treatment_and_city_in_one_language(language):
    quote = fakes.quote(valencia())
    comparison = quote_comparison_content(case(language), [(quote.referral, quote)], today=TODAY)
    summary = booking_summary_content(case(language), quote, [], "care@medtour.test", today=TODAY)
    treatment, place = NAMES[language]
    for content in (comparison, summary):
        assert content.treatment == treatment
    assert comparison.quotes[0].location == place == summary.quote.location
    for content in (comparison, summary):
        shown = text(build_patient_pdf(content).data)
        assert treatment in shown and place in shown
        if language == "ru":
            assert "Valencia" not in shown and "Total knee" not in shown


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_invoice_names_the_treatment_in_the_patients_language(language):
    chosen = fakes.quote(valencia())
    patient = case(language)
    invoice = SimpleNamespace(number="MT-INV-1", issued_at=datetime(2026, 11, 25, tzinfo=timezone.utc),
                              due_on=date(2026, 12, 9), amount=Decimal("1000.00"), currency="EUR",
                              payment_reference="MT-1", cancelled_at=None)
    content = invoice_content(SimpleNamespace(**vars(patient), chosen_quote=chosen), invoice, AGENCY)
    assert content.treatment == NAMES[language][0]


def test_the_visa_letter_is_english_with_the_treatment_translated_below():
    passport = SimpleNamespace(full_name="NURLANOVA Aigerim", nationality="KZ", passport_number="N1",
                               passport_expiry=date(2031, 1, 1), date_of_birth=date(1984, 5, 17))
    letter = visa_letter_contents(
        reference="MT-1", language="ru", legs=[], travellers=[("patient", passport)],
        treatment="Total knee replacement", treatment_translated="Эндопротезирование коленного сустава",
        clinic_name="Costa Salud Hospital", clinic_address="Avenida del Puerto 210, 46023 València, Spain",
        clinic_country="ES", earliest_date=date(2027, 3, 1), stay_days=14, agency=AGENCY,
        coordinator="Elena Hoffmann", today=TODAY,
    )[0]
    assert letter.treatment_in("en") == "Total knee replacement"
    assert letter.treatment_in("ru") == "Эндопротезирование коленного сустава"
    english, translation = text(build_visa_letter_pdf(letter).data).split("Перевод для сведения путешественника", 1)
    assert "Medical treatment: Total knee replacement" in english and "Эндопротезирование" not in english
    assert "Лечение: Эндопротезирование коленного сустава" in translation and "Total knee" not in translation


def test_the_clinics_dossier_stays_english():
    content = dossier_content(case("ru"), fakes.Referral(clinic=valencia()), [], fakes.link_for, today=TODAY)
    assert content.treatment == "Total knee replacement"
