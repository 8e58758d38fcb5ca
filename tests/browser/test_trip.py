"""The trip in a real browser, in Russian: a patient chose a clinic in Istanbul; a
coordinator signs in and, on the case's trip page, enters the patient's passport (a
Cyrillic name is refused at its field, what was typed kept), TK 417 out of Almaty, the
hotel, the clinic's dates and TK 416 home, each through the page's forms; the background
work renders the itinerary; the patient opens the status link, reads "Ваша поездка" day
by day with local times and zones, downloads the calendar (parsed back with icalendar:
a VTIMEZONE per zone, the flight in Asia/Almaty) and the itinerary PDF (read back with
pypdf: Russian text, the flight, the hotel)."""
from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from flask import Flask
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.conftest import empty_queues, remove_case, run_worker
from tests.fixtures.staff import PASSWORD

HOTEL = "Hotel Sultanahmet Palace"
HOTEL_ADDRESS = "Akbıyık Cd. 21, 34122 Fatih, Istanbul, Türkiye"
ALMATY, ISTANBUL = "Asia/Almaty", "Europe/Istanbul"


@dataclass(frozen=True)
class Seeded:
    case_id: int
    reference: str
    token: str
    coordinator: str
    users: tuple[str, ...]
    day: date


def _seed(app: Flask) -> Seeded:
    """A Russian case whose patient chose the Istanbul clinic's quote (7 days' stay), a coordinator."""
    from service.accounts.roles import COORDINATOR
    from service.cases.tokens import new_token
    from service.extensions import db
    from service.models import Referral, User
    from tests.fixtures.staff import make_user
    from tests.fixtures.trips import chosen_case, departure_day

    tag = uuid.uuid4().hex[:8]
    token, digest = new_token()
    with app.app_context():
        case = chosen_case(language="ru", token_hash=digest, full_name=f"Айгерим Нурланова {tag}",
                           email=f"aigerim.{tag}@example.org")
        clinics = [r.clinic_id for r in db.session.scalars(select(Referral).where(Referral.case_id == case.id))]
        clinic_users = tuple(db.session.scalars(select(User.email).where(User.clinic_id.in_(clinics))))
        coordinator = make_user(COORDINATOR, email=f"coordinator-{tag}@medtour.example")
        seeded = Seeded(case.id, case.reference, token, coordinator.email, (*clinic_users, coordinator.email),
                        departure_day())
        db.session.remove()
    return seeded


def _forget(app: Flask, seeded: Seeded) -> None:
    """The trip's rows first (remove_case does not know them), then the case and its users."""
    from sqlalchemy import delete

    from service.extensions import db
    from service.models.trip import Traveller, TripLeg

    with app.app_context():
        for model in (Traveller, TripLeg):
            db.session.execute(delete(model).where(model.case_id == seeded.case_id))
        db.session.commit()
        db.session.remove()
    remove_case(app, seeded.case_id, seeded.users)


@pytest.fixture
def seeded(live_app: Flask, live_server: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Seeded]:
    monkeypatch.setitem(live_app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(live_app.config, "BASE_URL", live_server)
    empty_queues(live_app)
    made = _seed(live_app)
    try:
        yield made
    finally:
        _forget(live_app, made)


def _post(page: Page, click) -> int:
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        with page.expect_navigation():
            click()
    return posted.value.status


def _open(page: Page, panel_id: str) -> Locator:
    """A collapsed form on the trip page, opened."""
    panel = page.locator(f"details#{panel_id}")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    return panel


def _local(day: date, hh: int, mm: int) -> str:
    return f"{day.isoformat()}T{hh:02d}:{mm:02d}"


def _add_leg(page: Page, kind: str, values: dict[str, str], button: str) -> None:
    panel = _open(page, f"new-{kind}")
    for label, value in values.items():
        panel.get_by_label(label, exact=True).fill(value)
    status = _post(page, panel.get_by_role("button", name=button).click)
    assert status == 303, f"{kind} was refused (HTTP {status}): {page.locator('.field-errors').all_inner_texts()}"


@pytest.mark.browser
def test_staff_enter_flights_and_hotel_and_the_russian_patient_downloads_calendar_and_itinerary(
    make_page, seeded: Seeded, live_app: Flask, screenshot, browser_log,
) -> None:
    day = seeded.day
    back = day + timedelta(days=9)

    # ------------------------------------------------------------ the coordinator signs in
    staff = make_page()
    staff.goto("/staff/login")
    staff.get_by_label("Email address").fill(seeded.coordinator)
    staff.get_by_label("Password").fill(PASSWORD)
    assert _post(staff, staff.get_by_role("button", name="Sign in").click) == 303
    staff.goto(f"/staff/cases/{seeded.reference}/trip")
    expect(staff.locator("html")).to_have_attribute("lang", "en")
    expect(staff.get_by_role("heading", level=1)).to_contain_text(f"Trip · {seeded.reference}")
    expect(staff.locator("#travellers .empty")).to_have_text("No traveller yet.")
    expect(staff.locator("#legs .empty")).to_have_text("Nothing booked yet.")

    # ------------------------------------------------------------ a Cyrillic surname is refused at its field
    traveller = _open(staff, "new-traveller")
    traveller.get_by_label("Travels as").select_option("patient")
    traveller.get_by_label("Given names (as in the passport)").fill("Aigerim")
    traveller.get_by_label("Surname (as in the passport)").fill("Нурланова")
    traveller.get_by_label("Nationality").fill("KZ")
    traveller.get_by_label("Passport number").fill("N12345678")
    traveller.get_by_label("Passport valid until").fill((day + timedelta(days=5 * 365)).isoformat())
    traveller.get_by_label("Date of birth").fill("1984-05-17")
    assert _post(staff, traveller.get_by_role("button", name="Add the traveller").click) == 422
    traveller = staff.locator("details#new-traveller")
    expect(traveller).to_have_attribute("open", "")
    surname = traveller.get_by_label("Surname (as in the passport)")
    expect(surname).to_have_value("Нурланова")
    expect(surname).to_have_attribute("aria-invalid", "true")
    expect(traveller.locator("#new-traveller-surname-error")).to_contain_text(
        "contains Cyrillic characters ('Н'); type it in Latin letters")
    expect(traveller.get_by_label("Passport number")).to_have_value("N12345678")
    expect(traveller.get_by_label("Given names (as in the passport)")).to_have_value("Aigerim")
    screenshot(staff, "staff-refused-name")

    # ------------------------------------------------------------ the passport in Latin letters
    surname.fill("Nurlanova")
    assert _post(staff, traveller.get_by_role("button", name="Add the traveller").click) == 303
    expect(staff.locator("body")).to_contain_text("Traveller added.")
    row = staff.locator("#travellers table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("NURLANOVA Aigerim")
    expect(row).to_contain_text("N12345678")

    # ------------------------------------------------------------ the legs, each through its form
    legs = staff.locator("#legs table tbody tr")
    _add_leg(staff, "outbound_flight", {
        "Airline": "Turkish Airlines", "Flight number": "TK 417", "From (IATA airport)": "ALA",
        "Departs (local time at that airport)": _local(day, 7, 10), "To (IATA airport)": "IST",
        "Arrives (local time at that airport)": _local(day, 10, 5),
    }, "Add outbound flight")
    expect(legs).to_have_count(1)
    expect(legs.nth(0)).to_contain_text("TK 417 ALA→IST")
    expect(legs.nth(0)).to_contain_text("07:10 Asia/Almaty (GMT+5)")
    expect(legs.nth(0)).to_contain_text("10:05 Europe/Istanbul (GMT+3)")

    _add_leg(staff, "stay", {
        "Hotel or flat": HOTEL, "Address": HOTEL_ADDRESS,
        "Check-in (local time)": _local(day, 14, 0), "Check-out (local time)": _local(back, 12, 0),
    }, "Add accommodation")
    expect(legs).to_have_count(2)
    expect(staff.locator("#legs table")).to_contain_text(HOTEL)
    expect(staff.locator("#legs table")).to_contain_text("14:00 Europe/Istanbul (GMT+3)")

    for kind, offset in (("admission", 1), ("procedure", 2), ("discharge", 6)):
        _add_leg(staff, kind, {"Date": (day + timedelta(days=offset)).isoformat()}, re.compile(r"^Add "))
    expect(legs).to_have_count(5)

    _add_leg(staff, "return_flight", {
        "Airline": "Turkish Airlines", "Flight number": "TK 416", "From (IATA airport)": "IST",
        "Departs (local time at that airport)": _local(back, 19, 40), "To (IATA airport)": "ALA",
        "Arrives (local time at that airport)": _local(back + timedelta(days=1), 3, 55),
    }, "Add return flight")
    expect(legs).to_have_count(6)
    table = staff.locator("#legs table")
    expect(table).to_contain_text("TK 416 IST→ALA")
    expect(table).to_contain_text("19:40 Europe/Istanbul (GMT+3)")
    expect(table).to_contain_text("03:55 Asia/Almaty (GMT+5)")
    expect(staff.locator(".trip-problems")).to_have_count(0)
    screenshot(staff, "staff-trip")

    # ------------------------------------------------------------ the background work renders the itinerary
    run_worker(live_app)
    from service.extensions import db
    from service.models import Document

    with live_app.app_context():
        kinds = set(db.session.scalars(select(Document.kind).where(Document.case_id == seeded.case_id)))
        db.session.remove()
    assert "itinerary" in kinds, kinds

    # ------------------------------------------------------------ the patient, in Russian
    patient = make_page(locale="ru-RU", extra_http_headers={"Accept-Language": "ru-RU,ru;q=0.9"},
                        accept_downloads=True)
    patient.goto(f"/s/{seeded.token}")
    expect(patient.locator("html")).to_have_attribute("lang", "ru")
    section = patient.get_by_role("region", name="Ваша поездка")
    expect(section).to_be_visible()
    expect(section).to_contain_text("Путешественники (как в паспортах): NURLANOVA Aigerim")
    days = section.locator("ol.trip-days > li")
    first = days.nth(0)
    expect(first.get_by_role("heading", level=3)).to_have_text(format_date(day, "d MMMM y", locale="ru"))
    expect(first).to_contain_text("07:10 Asia/Almaty (GMT+5)")
    expect(first).to_contain_text("Рейс Turkish Airlines TK 417 вылетает из")
    expect(first).to_contain_text("10:05 Europe/Istanbul (GMT+3)")
    expect(first).to_contain_text(f"Заселение: {HOTEL}")
    expect(section).to_contain_text("Весь день")  # the clinic's dates
    last = days.last
    expect(last.get_by_role("heading", level=3)).to_have_text(
        format_date(back + timedelta(days=1), "d MMMM y", locale="ru"))
    expect(last).to_contain_text("03:55 Asia/Almaty (GMT+5)")
    section.scroll_into_view_if_needed()
    page_shot = screenshot(patient, "patient-page")
    section.screenshot(path=page_shot.with_name(page_shot.name.replace("-patient-page", "-patient-trip")))

    # ------------------------------------------------------------ the calendar
    with patient.expect_download() as downloading:
        patient.get_by_role("link", name="Добавить поездку в календарь (.ics)").click()
    download = downloading.value
    assert download.suggested_filename == f"{seeded.reference}-trip.ics"
    import icalendar

    calendar = icalendar.Calendar.from_ical(Path(download.path()).read_bytes())
    zones = {str(z["TZID"]) for z in calendar.walk("VTIMEZONE")}
    assert {ALMATY, ISTANBUL} <= zones, zones
    events = calendar.walk("VEVENT")
    flights = [e for e in events if "TK 417" in str(e["SUMMARY"])]
    assert len(flights) == 1, [str(e["SUMMARY"]) for e in events]
    start = flights[0]["DTSTART"]
    assert start.params["TZID"] == ALMATY
    assert start.dt == datetime(day.year, day.month, day.day, 7, 10, tzinfo=ZoneInfo(ALMATY))
    assert start.dt.astimezone(timezone.utc).hour == 2
    assert any(HOTEL in str(e["SUMMARY"]) or HOTEL in str(e.get("LOCATION", "")) for e in events)
    assert len({str(e["UID"]) for e in events}) == len(events)

    # ------------------------------------------------------------ the itinerary PDF, from the documents list
    documents = patient.get_by_role("region", name="Ваши документы")
    link = documents.get_by_role("link", name="Ваш маршрут", exact=True)
    expect(link).to_be_visible()
    with patient.expect_download() as downloading:
        link.click()
    from pypdf import PdfReader

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(Path(downloading.value.path()).read_bytes())).pages)
    assert "Ваш маршрут" in text, text[:500]
    assert "TK 417" in text and "TK 416" in text, text[:2000]
    assert HOTEL in text, text[:2000]
    assert "NURLANOVA Aigerim" in text

    browser_log.assert_clean()
