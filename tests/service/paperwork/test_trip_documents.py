"""The trip's documents as pure functions of their data (no database): the letters'
dates and banner, the itinerary's local times, and hostile text shown as text with
nothing fetched."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from service.paperwork import SandboxedFetcher
from service.paperwork.invoice import Agency
from service.paperwork.trip import (
    NoTravellers,
    build_itinerary_pdf,
    build_visa_letter_pdf,
    coordinator_name,
    itinerary_content,
    visa_letter_contents,
    zone_label,
)
from tests.service.paperwork import pdfs

TODAY = date(2026, 11, 25)
HOSTILE = '<img src="file:///etc/passwd"> <script>alert(1)</script>'
FONTS = {"medtour-static:fonts/DejaVuSans.ttf", "medtour-static:fonts/DejaVuSans-Bold.ttf"}
AGENCY = Agency("Medtour Patient Services GmbH", "Friedrichstraße 100, 10117 Berlin", "HRB 000000",
                "+49 30 000000", "care@medtour.test", "Bank", "DE89370400440532013000", "COBADEFFXXX")


def passport(surname: str, given: str, number: str) -> SimpleNamespace:
    return SimpleNamespace(full_name=f"{surname.upper()} {given}", nationality="KZ", passport_number=number,
                           passport_expiry=date(2031, 1, 1), date_of_birth=date(1984, 5, 17))


def leg(kind: str, **values) -> SimpleNamespace:
    base = dict(kind=kind, details={}, starts_at=None, start_zone=None, ends_at=None, end_zone=None,
                on_date=None, cancelled_at=None)
    return SimpleNamespace(**{**base, **values})


TRAVELLERS = [("patient", passport("Nurlanova", "Aigerim", "N1")), ("companion", passport("Nurlanov", "Arman", "N2"))]


def letters(**changes) -> list:
    values = dict(reference="MT-1", language="ru", legs=[leg("admission", on_date=date(2027, 3, 2))],
                  travellers=TRAVELLERS, treatment="Knee replacement", clinic_name="Bosphorus Hospital",
                  clinic_address="Barbaros Bulvarı 112, Istanbul", clinic_country="TR",
                  earliest_date=date(2027, 3, 1), stay_days=7, agency=AGENCY, coordinator="Elena Hoffmann",
                  today=TODAY)
    values.update(changes)
    return visa_letter_contents(**values)


def text(data: bytes) -> str:
    return pdfs.flat(" ".join(pdfs.page_texts(data)))


def test_without_flights_the_letter_takes_the_clinic_dates_and_the_quote_length():
    content = letters()[0]
    assert (content.arrival, content.departure, content.stay_days) == (date(2027, 3, 2), date(2027, 3, 9), 7)
    body = text(build_visa_letter_pdf(content).data)
    assert "from 2 March 2027 to 9 March 2027 (length of stay 7 days)" in body
    assert "Consulate of Türkiye" in body and "консульства: Турция" in body
    assert "Confidential" not in body and "Medtour Patient Services GmbH · HRB 000000" in body


def test_a_cancelled_flight_does_not_count():
    outbound = leg("outbound_flight", starts_at=datetime(2027, 2, 20, 3, tzinfo=timezone.utc), start_zone="Asia/Almaty",
                   ends_at=datetime(2027, 2, 20, 8, tzinfo=timezone.utc), end_zone="Europe/Istanbul",
                   cancelled_at=datetime(2027, 1, 1, tzinfo=timezone.utc))
    content = letters(legs=[outbound, leg("admission", on_date=date(2027, 3, 2))])[0]
    assert content.arrival == date(2027, 3, 2)


def test_no_travellers_no_letter():
    with pytest.raises(NoTravellers, match="passport"):
        letters(travellers=[])


def test_the_coordinator_signs_by_name_else_the_default():
    named = SimpleNamespace(assignee=SimpleNamespace(full_name="Marta Kowalska"))
    unnamed = SimpleNamespace(assignee=SimpleNamespace(full_name=None))
    assert coordinator_name(named, "Default") == "Marta Kowalska"
    assert coordinator_name(unnamed, "Default") == coordinator_name(SimpleNamespace(assignee=None), "Default") == "Default"


def test_zone_label_carries_the_day_offset():
    from zoneinfo import ZoneInfo

    assert zone_label(datetime(2027, 7, 1, 12, tzinfo=ZoneInfo("Europe/Berlin"))) == "Europe/Berlin, UTC+02:00"
    assert zone_label(datetime(2027, 1, 1, 12, tzinfo=ZoneInfo("America/St_Johns"))) == "America/St_Johns, UTC-03:30"


def test_the_itinerary_keeps_its_banner_and_shows_the_local_day():
    late = leg("return_flight", details={"flight_number": "TK 416", "from_airport": "IST", "to_airport": "ALA"},
               starts_at=datetime(2027, 3, 10, 16, 40, tzinfo=timezone.utc), start_zone="Europe/Istanbul",
               ends_at=datetime(2027, 3, 10, 22, 55, tzinfo=timezone.utc), end_zone="Asia/Almaty")
    content = itinerary_content(reference="MT-1", language="en", legs=[late], travellers=TRAVELLERS,
                                clinic_name="Bosphorus Hospital", clinic_address="Street 1", agency=AGENCY,
                                coordinator="Elena Hoffmann", today=TODAY)
    assert [d.day for d in content.days] == [date(2027, 3, 10), date(2027, 3, 11)]  # lands after midnight in Almaty
    body = text(build_itinerary_pdf(content).data)
    assert "Confidential — health data" in body
    assert "Thursday, 11 March 2027 03:55 Asia/Almaty, UTC+05:00 Flight TK 416 arrives in Almaty (ALA)" in body


@pytest.mark.parametrize("which", ["letter", "itinerary"])
def test_hostile_text_is_text_and_nothing_is_fetched(which, monkeypatch):
    from weasyprint.urls import URLFetcher

    def forbidden(self, url, headers=None):
        raise AssertionError(f"default fetcher called for {url}")

    monkeypatch.setattr(URLFetcher, "fetch", forbidden)
    travellers = [("patient", passport("Nurlanova", HOSTILE, "N1"))]
    stay = leg("stay", details={"name": HOSTILE, "address": HOSTILE},
               starts_at=datetime(2027, 3, 1, 11, tzinfo=timezone.utc), start_zone="Europe/Istanbul",
               ends_at=datetime(2027, 3, 1, 11, tzinfo=timezone.utc) + timedelta(days=8), end_zone="Europe/Istanbul")
    fetcher = SandboxedFetcher()
    if which == "letter":
        rendered = build_visa_letter_pdf(letters(travellers=travellers, clinic_address=HOSTILE)[0], fetcher=fetcher)
    else:
        rendered = build_itinerary_pdf(itinerary_content(
            reference="MT-1", language="ru", legs=[stay], travellers=travellers, clinic_name=HOSTILE,
            clinic_address=HOSTILE, agency=AGENCY, coordinator=HOSTILE, today=TODAY), fetcher=fetcher)
    body = pdfs.squeeze(" ".join(pdfs.page_texts(rendered.data)))
    assert pdfs.squeeze(HOSTILE) in body
    assert set(fetcher.served) == FONTS and fetcher.refused == [] and pdfs.images(rendered.data) == []
