"""The trip's documents: the patient's itinerary (in their language) and a visa-support
letter per traveller (in English, the consulate's working language, with a marked
translation into the patient's language below it).

Builders take plain data: the legs (`TripLeg` rows or anything shaped like them), the
travellers as ``(role, passport)`` pairs already opened by the caller (the passport is
sealed at rest, and opening it belongs to `service.cases.trip`), the clinic and the
agency. A visa letter says what a consulate checks and nothing else: who travels (as
the passport writes it), with whom, where (the clinic's street address), when and who
pays. The treatment's name is the stated purpose; no diagnosis, no health detail, and
no "confidential — health data" banner (a consulate expects a plain business letter)."""
from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.paperwork import exhibits, wording
from service.paperwork.documents import RenderedPdf
from service.paperwork.invoice import Agency
from service.paperwork.render import SandboxedFetcher, render_document, render_template

PATIENT: Final = "patient"
COMPANION: Final = "companion"
FLIGHTS: Final = frozenset({"outbound_flight", "return_flight"})
CLINIC_DAYS: Final = ("admission", "procedure", "discharge")
COORDINATOR_TITLE: Final = "Patient coordinator"


# --------------------------------------------------------------------------- shared labels


@functools.cache
def _airports() -> dict[str, dict[str, Any]]:
    """airportsdata's table, loaded on first use (a tenth of a second; never at import)."""
    import airportsdata

    return airportsdata.load("IATA")


def airport_city(code: str | None) -> str:
    """"ALA" → "Almaty"; an unknown code is shown as it is."""
    if not code:
        return ""
    found = _airports().get(code.strip().upper())
    if not found:
        return code.strip().upper()
    return (found.get("city") or found.get("name") or code).split(",")[-1].strip()


def flight_label(details: dict[str, Any]) -> str:
    """"TK 417": the flight number as typed when it carries its airline's code, else the
    airline before it ("KC" + "701" → "KC 701")."""
    airline = str(details.get("airline") or "").strip()
    number = str(details.get("flight_number") or "").strip()
    if not number[:1].isdigit() or (airline and number.upper().startswith(airline.upper())):
        return number or airline
    return " ".join(part for part in (airline, number) if part)


def zone_of(name: str | None) -> ZoneInfo:
    """The leg's zone; UTC when it has none or an unknown one (a wrong zone would shift the time)."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(instant: datetime, zone: str | None) -> datetime:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(zone_of(zone))


def zone_label(moment: datetime) -> str:
    """"Asia/Almaty, UTC+05:00": the zone's name and that day's offset."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{moment.tzinfo}, UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _live(legs: Iterable[Any]) -> list[Any]:
    return [leg for leg in legs if getattr(leg, "cancelled_at", None) is None]


def _first(legs: Sequence[Any], kind: str) -> Any | None:
    return next((leg for leg in legs if leg.kind == kind), None)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Person:
    """A traveller as the passport names them."""

    role: str                    # PATIENT or COMPANION
    full_name: str               # "NURLANOVA Aigerim"
    nationality: str             # ISO 3166-1 alpha-2
    passport_number: str
    passport_expiry: date
    date_of_birth: date


@dataclass(frozen=True)
class ClinicDates:
    admission: date | None
    procedure: date | None
    discharge: date | None


@dataclass(frozen=True)
class ItineraryItem:
    time: str                    # "07:10", or "" for a clinic's day
    zone: str                    # "Asia/Almaty, UTC+05:00", or ""
    title: str
    detail: str = ""


@dataclass(frozen=True)
class ItineraryDay:
    day: date
    items: tuple[ItineraryItem, ...]


@dataclass(frozen=True)
class ItineraryContent:
    reference: str
    language: str
    prepared_on: date
    travellers: tuple[Person, ...]
    days: tuple[ItineraryDay, ...]
    clinic_name: str
    clinic_address: str
    clinic_dates: ClinicDates
    agency: Agency
    coordinator: str


@dataclass(frozen=True)
class VisaLetterContent:
    reference: str
    language: str                # the patient's: the translation below the English letter
    prepared_on: date
    traveller: Person            # the letter's holder
    patient: Person
    others: tuple[Person, ...]   # everyone else on the trip, the patient first
    treatment: str
    clinic_name: str
    clinic_address: str
    clinic_country: str          # ISO code
    clinic_dates: ClinicDates
    arrival: date
    departure: date
    agency: Agency
    coordinator: str
    coordinator_title: str = COORDINATOR_TITLE
    # The treatment's name in `language`, for the translation ("" : the English one).
    treatment_translated: str = ""

    def treatment_in(self, language: str) -> str:
        """The purpose of travel in one part's language: the letter English, the translation the patient's."""
        if language != wording.DEFAULT and language == self.language and self.treatment_translated:
            return self.treatment_translated
        return self.treatment

    @property
    def stay_days(self) -> int:
        return (self.departure - self.arrival).days

    @property
    def for_patient(self) -> bool:
        return self.traveller.role == PATIENT

    @property
    def translated(self) -> bool:
        return self.language != wording.DEFAULT


def person(role: str, passport: Any) -> Person:
    return Person(role=role, full_name=passport.full_name, nationality=passport.nationality,
                  passport_number=passport.passport_number, passport_expiry=passport.passport_expiry,
                  date_of_birth=passport.date_of_birth)


def clinic_dates(legs: Iterable[Any]) -> ClinicDates:
    live = _live(legs)
    found = {kind: getattr(_first(live, kind), "on_date", None) for kind in CLINIC_DAYS}
    return ClinicDates(found["admission"], found["procedure"], found["discharge"])


def coordinator_name(case: Any, default: str) -> str:
    """The case's coordinator as they are named, else the agency's configured signatory."""
    assignee = getattr(case, "assignee", None)
    name = (getattr(assignee, "full_name", None) or "").strip() if assignee is not None else ""
    return name or default


# --------------------------------------------------------------------------- itinerary


def itinerary_content(
    *, reference: str, language: str | None, legs: Iterable[Any], travellers: Sequence[tuple[str, Any]],
    clinic_name: str, clinic_address: str, agency: Agency, coordinator: str, today: date | None = None,
) -> ItineraryContent:
    """The trip day by day in the patient's language, each time local with its zone."""
    language = wording.resolve(language)
    _ = wording.words(language)
    live = _live(legs)
    entries: list[tuple[date, str, ItineraryItem]] = []

    def at(instant: datetime, zone: str | None, title: str, detail: str = "") -> None:
        moment = local_time(instant, zone)
        entries.append((moment.date(), moment.strftime("%H:%M"),
                        ItineraryItem(moment.strftime("%H:%M"), zone_label(moment), title, detail)))

    for leg in live:
        details = leg.details or {}
        kind = leg.kind
        if kind in FLIGHTS and leg.starts_at is not None:
            origin, destination = details.get("from_airport") or "", details.get("to_airport") or ""
            flight = flight_label(details)
            at(leg.starts_at, leg.start_zone,
               _("Flight %(flight)s departs %(city)s (%(code)s)", flight=flight, city=airport_city(origin),
                    code=str(origin).upper()), str(details.get("airline") or ""))
            if leg.ends_at is not None:
                at(leg.ends_at, leg.end_zone or leg.start_zone,
                   _("Flight %(flight)s arrives in %(city)s (%(code)s)", flight=flight,
                        city=airport_city(destination), code=str(destination).upper()))
        elif kind == "stay" and leg.starts_at is not None:
            name, address = str(details.get("name") or ""), str(details.get("address") or "")
            at(leg.starts_at, leg.start_zone, _("Check-in: %(name)s", name=name), address)
            if leg.ends_at is not None:
                at(leg.ends_at, leg.end_zone or leg.start_zone, _("Check-out: %(name)s", name=name), address)
        elif kind == "transfer" and leg.starts_at is not None:
            place = str(details.get("pickup_place") or details.get("pickup") or "")
            going = str(details.get("destination") or "")
            at(leg.starts_at, leg.start_zone, _("Transfer: pick-up at %(place)s", place=place),
               _("to %(place)s", place=going) if going else "")
        elif kind == "interpreter" and leg.starts_at is not None:
            name, spoken = str(details.get("name") or ""), str(details.get("language") or "")
            at(leg.starts_at, leg.start_zone, _("Interpreter: %(name)s", name=name), spoken)
        elif kind in CLINIC_DAYS and leg.on_date is not None:
            title = {
                "admission": _("Admission at %(clinic)s", clinic=clinic_name),
                "procedure": _("Treatment day at %(clinic)s", clinic=clinic_name),
                "discharge": _("Expected discharge from %(clinic)s", clinic=clinic_name),
            }[kind]
            entries.append((leg.on_date, "", ItineraryItem("", "", title, clinic_address)))
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    days: dict[date, list[ItineraryItem]] = {}
    for day, _time, item in entries:
        days.setdefault(day, []).append(item)
    return ItineraryContent(
        reference=reference, language=language, prepared_on=today or datetime.now(timezone.utc).date(),
        travellers=tuple(person(role, passport) for role, passport in travellers),
        days=tuple(ItineraryDay(day, tuple(items)) for day, items in days.items()),
        clinic_name=clinic_name, clinic_address=clinic_address, clinic_dates=clinic_dates(live),
        agency=agency, coordinator=coordinator,
    )


def build_itinerary_pdf(content: ItineraryContent, *, fetcher: SandboxedFetcher | None = None) -> RenderedPdf:
    output = render_document(itinerary_html(content), fetcher)
    return RenderedPdf.of(output.data, output.pages)


def itinerary_html(content: ItineraryContent) -> str:
    language = content.language
    return render_template(
        "paperwork/itinerary.html", c=content, _=wording.words(language), lang=language, g=exhibits.GEOMETRY,
        date=lambda value: wording.format_date(value, language),
        weekday=lambda value: _weekday(value, language),
        country=lambda code: wording.country_name(code, language),
    )


def _weekday(value: date, language: str) -> str:
    from babel.dates import format_date

    return format_date(value, "EEEE, d MMMM y", locale=language)


# --------------------------------------------------------------------------- visa letters


class NoTravellers(ValueError):
    """A visa letter names its traveller as the passport does: none can be written yet."""


def visa_letter_contents(
    *, reference: str, language: str | None, legs: Iterable[Any], travellers: Sequence[tuple[str, Any]],
    treatment: str, clinic_name: str, clinic_address: str, clinic_country: str,
    earliest_date: date, stay_days: int, agency: Agency, coordinator: str, today: date | None = None,
    treatment_translated: str = "",
) -> list[VisaLetterContent]:
    """One letter per traveller, in the order given (the patient first). The dates are the
    booked ones (arrival and departure flights, the clinic's dates), else the quote's;
    `treatment` is the English name, `treatment_translated` the one in `language`."""
    people = [person(role, passport) for role, passport in travellers]
    if not people:
        raise NoTravellers("no traveller's passport details are entered yet: add the patient's first")
    patient = next((p for p in people if p.role == PATIENT), people[0])
    live = _live(legs)
    dates = clinic_dates(live)
    admission = dates.admission or earliest_date
    outbound, back = _first(live, "outbound_flight"), _first(live, "return_flight")
    arrival = (local_time(outbound.ends_at or outbound.starts_at, outbound.end_zone or outbound.start_zone).date()
               if outbound is not None and (outbound.ends_at or outbound.starts_at) else admission)
    departure = (local_time(back.starts_at, back.start_zone).date()
                 if back is not None and back.starts_at is not None
                 else (dates.discharge or admission + timedelta(days=stay_days)))
    language = wording.resolve(language)
    prepared = today or datetime.now(timezone.utc).date()
    ordered = [patient, *(p for p in people if p is not patient)]
    return [
        VisaLetterContent(
            reference=reference, language=language, prepared_on=prepared, traveller=holder, patient=patient,
            others=tuple(p for p in ordered if p is not holder), treatment=treatment,
            clinic_name=clinic_name, clinic_address=clinic_address, clinic_country=clinic_country,
            clinic_dates=dates, arrival=arrival, departure=max(departure, arrival),
            agency=agency, coordinator=coordinator, treatment_translated=treatment_translated,
        )
        for holder in people
    ]


def build_visa_letter_pdf(content: VisaLetterContent, *, fetcher: SandboxedFetcher | None = None) -> RenderedPdf:
    output = render_document(visa_letter_html(content), fetcher)
    return RenderedPdf.of(output.data, output.pages)


def visa_letter_html(content: VisaLetterContent) -> str:
    """English first (dates and countries in English), then the marked translation."""
    parts = [("en", wording.words("en"))]
    if content.translated:
        parts.append((content.language, wording.words(content.language)))
    return render_template(
        "paperwork/visa_letter.html", c=content, parts=parts, lang="en", g=exhibits.GEOMETRY,
        _=wording.words("en"), confidential=False, footer_note=f"{content.agency.name} · {content.agency.registration}",
        date=wording.format_date, days=wording.format_days, country=wording.country_name,
    )
