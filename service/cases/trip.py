"""The trip: who travels and each leg of the journey, with the checks that keep the
dates consistent. Plain functions; the views and the clinic portal call them, each
change writes its timeline event, nothing here commits.

Times are typed as the wall clock where they happen (a flight leaves in one zone and
lands in another; the hotel and transfers are in the clinic's city) and stored as UTC
instants beside their IANA zone, so every reader (the status page, the calendar, the
itinerary) shows the local time without guessing. A changed leg keeps its `uid` and
raises its `sequence`; a removed one is kept with `cancelled_at`: calendar programs
update or cancel the event they imported. Passports are sealed at rest
(`seal_passport`) and never written to the timeline."""
from __future__ import annotations

import functools
import json
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Final
from uuid import uuid4
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, select

from service import limits
from service.cases import events, paperwork_store
from service.cases.secrets_box import open_secret, seal
from service.cases.status import CaseStatus
from service.choices import country_codes
from service.extensions import db
from service.i18n import format_day, gettext
from service.models import Case, Clinic, Quote, Referral, Traveller, TripLeg
from service.models.trip import LegKind, TravellerRole

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Passport:
    """A traveller as their passport names them (Latin script), sealed at rest."""

    given_names: str
    surname: str
    nationality: str       # ISO 3166-1 alpha-2
    passport_number: str
    passport_expiry: date
    date_of_birth: date

    @property
    def full_name(self) -> str:
        """"SURNAME Given Names", as consulates and airlines write it."""
        return f"{self.surname.upper()} {self.given_names}"


def seal_passport(passport: Passport) -> str:
    data = asdict(passport)
    data["passport_expiry"] = passport.passport_expiry.isoformat()
    data["date_of_birth"] = passport.date_of_birth.isoformat()
    return seal(json.dumps(data, ensure_ascii=False))


def passport_of(traveller: Traveller) -> Passport:
    data = json.loads(open_secret(traveller.sealed))
    return Passport(
        given_names=data["given_names"], surname=data["surname"], nationality=data["nationality"],
        passport_number=data["passport_number"], passport_expiry=date.fromisoformat(data["passport_expiry"]),
        date_of_birth=date.fromisoformat(data["date_of_birth"]),
    )


# ---------------------------------------------------------------- vocabulary

FLIGHTS: Final = (LegKind.OUTBOUND_FLIGHT, LegKind.RETURN_FLIGHT)
CLINIC_DAYS: Final = (LegKind.ADMISSION, LegKind.PROCEDURE, LegKind.DISCHARGE)
TIMED: Final = (LegKind.STAY, LegKind.TRANSFER, LegKind.INTERPRETER)
# Staff English for each kind (the patient's wording is `_patient_label`).
KIND_LABELS: Final[dict[str, str]] = {
    LegKind.OUTBOUND_FLIGHT: "Outbound flight",
    LegKind.RETURN_FLIGHT: "Return flight",
    LegKind.STAY: "Accommodation",
    LegKind.TRANSFER: "Transfer",
    LegKind.INTERPRETER: "Interpreter",
    LegKind.ADMISSION: "Admission",
    LegKind.PROCEDURE: "Procedure",
    LegKind.DISCHARGE: "Expected discharge",
}
# The statuses in which the trip is planned and changed.
TRIP_STATUSES: Final = frozenset({CaseStatus.CHOSEN, CaseStatus.TRAVEL_BOOKED, CaseStatus.IN_TREATMENT})
# The airline's IATA code (two characters, not both digits: TK, U2, 9W) and 1-4 digits.
_FLIGHT_NUMBER: Final = re.compile(r"^([A-Z][A-Z0-9]|[0-9][A-Z])\s?(\d{1,4}[A-Z]?)$")
_PASSPORT_NUMBER: Final = re.compile(r"^[A-Z0-9]{5,20}$")
_NAME_PUNCTUATION: Final = frozenset(" -'’")


class Audience(StrEnum):
    PATIENT = "patient"
    CLINIC = "clinic"
    STAFF = "staff"


class TripRefused(ValueError):
    """A change the trip's rules refuse; `errors` maps the form's fields to messages
    (empty when the refusal is about the case, not a field)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_uid() -> str:
    """A leg's calendar UID, made once and kept for life (RFC 5545 wants it globally unique)."""
    return f"{uuid4()}@medtour"


def _day(value: date) -> str:
    """A date in the staff's English, the one form (service.i18n.format_day): "12 May 2026"."""
    return format_day(value, "en")


def _stamp(moment: datetime) -> str:
    """A local date and time in the staff's English: "12 May 2026 14:05"."""
    return f"{_day(moment.date())} {moment:%H:%M}"


# ---------------------------------------------------------------- airports and zones


@functools.cache
def _airports() -> dict[str, dict[str, Any]]:
    import airportsdata

    return airportsdata.load("IATA")


def airport(code: str) -> dict[str, Any] | None:
    """The airport with this IATA code (name, city, country, tz), or None."""
    return _airports().get((code or "").strip().upper())


def airport_city(code: str) -> str:
    """The city an airport serves, as people say it ("Arnavutköy, Istanbul" → "Istanbul")."""
    found = airport(code) or {}
    return (found.get("city") or found.get("name") or code).split(",")[-1].strip()


@functools.cache
def _country_zones() -> dict[str, str]:
    """Each country's main zone: the one most of its airports are in."""
    counts: dict[str, Counter[str]] = {}
    for found in _airports().values():
        if found.get("tz") and found.get("country"):
            counts.setdefault(found["country"], Counter())[found["tz"]] += 1
    return {country: zones.most_common(1)[0][0] for country, zones in counts.items()}


def country_zone(country: str) -> str:
    return _country_zones().get((country or "").upper(), "UTC")


def clinic_zone(case: Case) -> str:
    """Where the stay, transfers and interpreter happen: the outbound flight's arrival
    zone, else the chosen clinic's country's main zone."""
    outbound = active_leg(case, LegKind.OUTBOUND_FLIGHT)
    if outbound is not None and outbound.end_zone:
        return outbound.end_zone
    clinic = chosen_clinic(case)
    return country_zone(clinic.country if clinic is not None else case.country)


def chosen_clinic(case: Case) -> Clinic | None:
    if case.chosen_quote_id is None:
        return None
    return db.session.scalar(
        select(Clinic).join(Referral, Referral.clinic_id == Clinic.id).join(Quote, Quote.referral_id == Referral.id)
        .where(Quote.id == case.chosen_quote_id))


def _utc(local: datetime, zone: str) -> datetime:
    """A wall-clock time typed in `zone` as the instant stored (UTC)."""
    return local.replace(tzinfo=None).replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def local(moment: datetime | None, zone: str | None) -> datetime | None:
    """A stored instant as the wall clock in `zone`."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(ZoneInfo(zone or "UTC"))


def gmt_offset(moment: datetime) -> str:
    """"GMT+3", "GMT+5:30", "GMT-4", "GMT"."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "GMT"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"GMT{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zoned_time(moment: datetime | None, zone: str | None) -> str:
    """"14:35 Europe/Istanbul (GMT+3)": the time where it happens, its zone named."""
    at = local(moment, zone)
    if at is None:
        return ""
    return f"{at:%H:%M} {zone or 'UTC'} ({gmt_offset(at)})"


# ---------------------------------------------------------------- travellers


def check_name(value: str, field: str = "name") -> str | None:
    """A message if `value` is not a name as a passport prints it (Latin letters, with
    their diacritics, spaces, hyphens, apostrophes)."""
    value = (value or "").strip()
    if not value:
        return f"Enter the {field} exactly as in the passport."
    if len(value) > limits.TRAVELLER_NAME_MAX_CHARS:
        return f"The {field} can be at most {limits.TRAVELLER_NAME_MAX_CHARS} characters."
    for char in value:
        if char in _NAME_PUNCTUATION:
            continue
        if not char.isalpha() or not unicodedata.name(char, "").startswith("LATIN "):
            script = "Cyrillic" if unicodedata.name(char, "").startswith("CYRILLIC") else "non-Latin"
            return (f"The {field} contains {script} characters ({char!r}); type it in Latin letters "
                    "exactly as in the passport's machine-readable line.")
    if not any(char.isalpha() for char in value):
        return f"Enter the {field} exactly as in the passport."
    return None


def normalise_passport(passport: Passport) -> Passport:
    """Spaces squeezed, the number and nationality in capitals."""
    return replace(
        passport,
        given_names=" ".join((passport.given_names or "").split()),
        surname=" ".join((passport.surname or "").split()),
        nationality=(passport.nationality or "").strip().upper(),
        passport_number=re.sub(r"[\s-]", "", passport.passport_number or "").upper(),
    )


def check_passport(passport: Passport, today: date | None = None) -> dict[str, str]:
    """Each field of a passport that is not right, with its message."""
    today = today or _now().date()
    errors: dict[str, str] = {}
    for name, label in (("given_names", "given names"), ("surname", "surname")):
        problem = check_name(getattr(passport, name), label)
        if problem:
            errors[name] = problem
    if passport.nationality not in country_codes():
        errors["nationality"] = "Choose the nationality by its ISO 3166-1 code, for example KZ, RU or DE."
    if not _PASSPORT_NUMBER.match(passport.passport_number or ""):
        errors["passport_number"] = "Enter the passport number as printed: 5 to 20 letters and digits."
    if passport.passport_expiry is None or passport.passport_expiry <= today:
        errors["passport_expiry"] = "This passport has expired; a traveller needs a valid passport."
    if passport.date_of_birth is None or passport.date_of_birth >= today:
        errors["date_of_birth"] = "The date of birth must be in the past."
    elif passport.date_of_birth.year < 1900:
        errors["date_of_birth"] = "Check the date of birth: the year is before 1900."
    return errors


def travellers(case: Case) -> list[Traveller]:
    return list(db.session.scalars(
        select(Traveller).where(Traveller.case_id == case.id).order_by(Traveller.position, Traveller.id)
    ))


def _check_open(case: Case) -> None:
    if case.erased_at is not None or case.erasure_requested_at is not None:
        raise TripRefused("This case's personal data is erased; the trip cannot be changed.")
    if case.status not in TRIP_STATUSES:
        raise TripRefused(f"The trip can be planned once the patient has chosen a clinic "
                          f"(the case is {CaseStatus(case.status).staff_label.lower()}).")


def _passport_deadline(case: Case, legs: dict[str, TripLeg | LegFacts] | None = None) -> tuple[date, date] | None:
    """(the return flight's local departure day, the day a passport must be valid until)."""
    legs = legs if legs is not None else _facts(case)
    back = legs.get(LegKind.RETURN_FLIGHT)
    if back is None or back.starts_at is None:
        return None
    departs = local(back.starts_at, back.start_zone).date()
    return departs, departs + relativedelta(months=limits.PASSPORT_VALID_MONTHS_AFTER_RETURN)


def _expiry_problem(passport: Passport, deadline: tuple[date, date] | None) -> str | None:
    if deadline is None or passport.passport_expiry is None or passport.passport_expiry >= deadline[1]:
        return None
    return (f"This passport expires on {_day(passport.passport_expiry)}; it must be valid until at least "
            f"{_day(deadline[1])}, {limits.PASSPORT_VALID_MONTHS_AFTER_RETURN} months after the return flight "
            f"on {_day(deadline[0])}.")


def companions_problem(count: int, max_companions: int) -> str | None:
    """A message if `count` companions is more than the agency takes."""
    if count <= max_companions:
        return None
    return (f"At most {max_companions} companion(s) can travel with the patient; "
            f"this would make {count}.")


def _traveller_event(case: Case, actor: str, kind: events.EventKind, traveller: Traveller, passport: Passport) -> None:
    # The name is personal text (erasure drops it); the passport number never goes in.
    events.record_event(case, actor, kind, role=traveller.role, position=traveller.position,
                        traveller=passport.full_name, nationality=passport.nationality)
    paperwork_store.trip_changed(case)  # the itinerary and visa letters follow


def add_traveller(case: Case, passport: Passport, actor: str, *, max_companions: int,
                  role: TravellerRole | str = TravellerRole.COMPANION, today: date | None = None) -> Traveller:
    """The patient (once) or a companion (up to `max_companions`), sealed at rest.
    Raises `TripRefused` with the fields' messages."""
    _check_open(case)
    role = TravellerRole(role)
    passport = normalise_passport(passport)
    errors = check_passport(passport, today)
    existing = travellers(case)
    if role == TravellerRole.PATIENT and any(t.role == TravellerRole.PATIENT for t in existing):
        errors["role"] = "The patient is already on the trip; change their passport instead."
    if role == TravellerRole.COMPANION:
        problem = companions_problem(sum(t.role == TravellerRole.COMPANION for t in existing) + 1, max_companions)
        if problem:
            errors["role"] = problem
    problem = _expiry_problem(passport, _passport_deadline(case))
    if problem and "passport_expiry" not in errors:
        errors["passport_expiry"] = problem
    if errors:
        raise TripRefused("The traveller has problems: " + " ".join(errors.values()), errors)
    position = 0 if role == TravellerRole.PATIENT else max([0, *(t.position for t in existing)]) + 1
    traveller = Traveller(case_id=case.id, role=role.value, position=position, sealed=seal_passport(passport))
    db.session.add(traveller)
    db.session.flush()
    _traveller_event(case, actor, events.EventKind.TRAVELLER_ADDED, traveller, passport)
    return traveller


def _case_traveller(case: Case, traveller_id: int) -> Traveller:
    traveller = db.session.get(Traveller, traveller_id)
    if traveller is None or traveller.case_id != case.id:
        raise TripRefused("There is no such traveller on this case.")
    return traveller


def change_traveller(case: Case, traveller_id: int, passport: Passport, actor: str,
                     today: date | None = None) -> Traveller:
    _check_open(case)
    traveller = _case_traveller(case, traveller_id)
    passport = normalise_passport(passport)
    errors = check_passport(passport, today)
    problem = _expiry_problem(passport, _passport_deadline(case))
    if problem and "passport_expiry" not in errors:
        errors["passport_expiry"] = problem
    if errors:
        raise TripRefused("The traveller has problems: " + " ".join(errors.values()), errors)
    if passport_of(traveller) == passport:
        raise TripRefused("Nothing changed; change at least one field.")
    traveller.sealed = seal_passport(passport)
    traveller.updated_at = _now()
    _traveller_event(case, actor, events.EventKind.TRAVELLER_CHANGED, traveller, passport)
    return traveller


def remove_traveller(case: Case, traveller_id: int, actor: str) -> None:
    """The traveller's row goes (their passport with it); the timeline keeps that they were removed."""
    _check_open(case)
    traveller = _case_traveller(case, traveller_id)
    _traveller_event(case, actor, events.EventKind.TRAVELLER_REMOVED, traveller, passport_of(traveller))
    db.session.delete(traveller)
    db.session.flush()


# ---------------------------------------------------------------- legs


@dataclass(frozen=True)
class LegFacts:
    """A leg as a form gives it, checked and in the stored shape (UTC instants with zones)."""

    kind: str
    details: dict[str, Any] = field(default_factory=dict)
    starts_at: datetime | None = None
    start_zone: str | None = None
    ends_at: datetime | None = None
    end_zone: str | None = None
    on_date: date | None = None


def _text(value: str | None, field: str, label: str, errors: dict[str, str], *, required: bool = True) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        errors[field] = f"Enter the {label}."
    elif len(value) > limits.TRIP_TEXT_MAX_CHARS:
        errors[field] = f"The {label} can be at most {limits.TRIP_TEXT_MAX_CHARS} characters."
    return value


def _refuse_if(errors: dict[str, str]) -> None:
    if errors:
        raise TripRefused("The leg has problems: " + " ".join(errors.values()), errors)


def flight(kind: LegKind | str, *, airline: str, flight_number: str, from_airport: str, departs: datetime | None,
           to_airport: str, arrives: datetime | None) -> LegFacts:
    """A flight from local departure and arrival times at IATA airports (each airport's
    zone from `airportsdata`). `departs`/`arrives` are wall-clock (naive) times."""
    kind = LegKind(kind)
    if kind not in FLIGHTS:
        raise ValueError(f"{kind} is not a flight")
    errors: dict[str, str] = {}
    airline = _text(airline, "airline", "airline", errors)
    number = " ".join((flight_number or "").upper().split())
    matched = _FLIGHT_NUMBER.match(number)
    if matched is None:
        errors["flight_number"] = "Enter the flight number as on the ticket: the airline's code and digits, e.g. TK 417."
    else:
        number = f"{matched.group(1)} {matched.group(2)}"
    zones = {}
    for field_name, code in (("from_airport", from_airport), ("to_airport", to_airport)):
        found = airport(code)
        if found is None or not found.get("tz"):
            errors[field_name] = f"{(code or '').strip() or 'This'} is not an IATA airport code; enter three letters, e.g. ALA or IST."
        else:
            zones[field_name] = found["tz"]
    if (from_airport or "").strip().upper() == (to_airport or "").strip().upper() and "to_airport" not in errors:
        errors["to_airport"] = "The flight must arrive at another airport than it leaves from."
    if departs is None:
        errors["departs"] = "Enter the local departure date and time."
    if arrives is None:
        errors["arrives"] = "Enter the local arrival date and time."
    _refuse_if(errors)
    starts_at, ends_at = _utc(departs, zones["from_airport"]), _utc(arrives, zones["to_airport"])
    if ends_at <= starts_at:
        errors["arrives"] = (f"The flight arrives ({_stamp(arrives)} {zones['to_airport']}) before it leaves "
                             f"({_stamp(departs)} {zones['from_airport']}); check both local times.")
    _refuse_if(errors)
    return LegFacts(kind.value, {"airline": airline, "flight_number": number,
                                 "from_airport": from_airport.strip().upper(), "to_airport": to_airport.strip().upper()},
                    starts_at, zones["from_airport"], ends_at, zones["to_airport"])


def stay(*, name: str, address: str, check_in: datetime | None, check_out: datetime | None, zone: str) -> LegFacts:
    """The accommodation, check-in and check-out local to the clinic's city (`clinic_zone`)."""
    errors: dict[str, str] = {}
    name = _text(name, "name", "name of the hotel or flat", errors)
    address = _text(address, "address", "address", errors)
    if check_in is None:
        errors["check_in"] = "Enter the check-in date and time."
    if check_out is None:
        errors["check_out"] = "Enter the check-out date and time."
    elif check_in is not None and check_out <= check_in:
        errors["check_out"] = f"Check-out ({_stamp(check_out)}) must be after check-in ({_stamp(check_in)})."
    _refuse_if(errors)
    return LegFacts(LegKind.STAY.value, {"name": name, "address": address},
                    _utc(check_in, zone), zone, _utc(check_out, zone), zone)


def transfer(*, pickup_place: str, pickup: datetime | None, destination: str = "", zone: str) -> LegFacts:
    errors: dict[str, str] = {}
    pickup_place = _text(pickup_place, "pickup_place", "pick-up place", errors)
    destination = _text(destination, "destination", "destination", errors, required=False)
    if pickup is None:
        errors["pickup"] = "Enter the pick-up date and time."
    _refuse_if(errors)
    return LegFacts(LegKind.TRANSFER.value, {"pickup_place": pickup_place, "destination": destination},
                    _utc(pickup, zone), zone)


def interpreter(*, name: str, language: str, starts: datetime | None, ends: datetime | None, zone: str) -> LegFacts:
    errors: dict[str, str] = {}
    name = _text(name, "name", "interpreter's name", errors)
    language = _text(language, "language", "language", errors)
    if starts is None:
        errors["starts"] = "Enter when the interpreter starts."
    if ends is None:
        errors["ends"] = "Enter when the interpreter's booking ends."
    elif starts is not None and ends <= starts:
        errors["ends"] = f"The booking must end ({_stamp(ends)}) after it starts ({_stamp(starts)})."
    _refuse_if(errors)
    return LegFacts(LegKind.INTERPRETER.value, {"name": name, "language": language},
                    _utc(starts, zone), zone, _utc(ends, zone), zone)


def clinic_day(kind: LegKind | str, on_date: date | None) -> LegFacts:
    """One of the clinic's dates: admission, procedure or expected discharge."""
    kind = LegKind(kind)
    if kind not in CLINIC_DAYS:
        raise ValueError(f"{kind} is not a clinic date")
    if on_date is None:
        raise TripRefused("Enter the date.", {"on_date": f"Enter the {KIND_LABELS[kind].lower()} date."})
    return LegFacts(kind.value, on_date=on_date)


def legs(case: Case, *, include_cancelled: bool = False) -> list[TripLeg]:
    stmt = select(TripLeg).where(TripLeg.case_id == case.id)
    if not include_cancelled:
        stmt = stmt.where(TripLeg.cancelled_at.is_(None))
    found = list(db.session.scalars(stmt))
    return sorted(found, key=_leg_order)


def _leg_order(leg: TripLeg) -> tuple:
    if leg.starts_at is not None:
        moment = leg.starts_at if leg.starts_at.tzinfo else leg.starts_at.replace(tzinfo=timezone.utc)
        return (local(moment, leg.start_zone).date(), 1, moment, leg.id)
    return (leg.on_date or date.max, 0, datetime.min.replace(tzinfo=timezone.utc), leg.id)


def active_leg(case: Case, kind: LegKind | str) -> TripLeg | None:
    """The one leg of this kind not cancelled (the newest, should there be two)."""
    return db.session.scalars(
        select(TripLeg).where(TripLeg.case_id == case.id, TripLeg.kind == LegKind(kind).value,
                              TripLeg.cancelled_at.is_(None)).order_by(TripLeg.id.desc())
    ).first()


# The kinds a case has one of at a time (a second outbound flight replaces nothing: it is refused).
SINGLE: Final = frozenset({*FLIGHTS, *CLINIC_DAYS})


def _facts(case: Case, *, without: int | None = None) -> dict[str, Any]:
    """The single-kind legs in force (the flights and the clinic's dates), by kind."""
    found: dict[str, Any] = {}
    for leg in legs(case):
        if leg.kind in SINGLE and leg.id != without:
            found[leg.kind] = leg
    return found


def _arrival(leg) -> date | None:
    return local(leg.ends_at, leg.end_zone).date() if leg is not None and leg.ends_at is not None else None


def _departure(leg) -> date | None:
    return local(leg.starts_at, leg.start_zone).date() if leg is not None and leg.starts_at is not None else None


def check_dates(legs_by_kind: dict[str, Any], *, stay_days: int | None, passports: list[Passport] = (),
                companions: int = 0, max_companions: int | None = None) -> dict[str, str]:
    """The trip's rules, on the legs in force (by kind: objects with starts_at/start_zone,
    ends_at/end_zone, on_date) and the travellers' passports; the problems keyed by what
    they are about: "arrival", "admission", "procedure", "discharge", "stay",
    "return_departure", "passport_expiry", "companions". Each message names the dates."""
    problems: dict[str, str] = {}
    outbound, back = legs_by_kind.get(LegKind.OUTBOUND_FLIGHT), legs_by_kind.get(LegKind.RETURN_FLIGHT)
    admission, procedure, discharge = (legs_by_kind.get(k) for k in CLINIC_DAYS)
    arrives, departs = _arrival(outbound), _departure(back)
    if arrives is not None and admission is not None and arrives >= admission.on_date:
        problems["arrival"] = (f"The outbound flight arrives on {_day(arrives)}, not before the admission on "
                               f"{_day(admission.on_date)}; the patient must arrive the day before admission at the latest.")
    if admission is not None and procedure is not None and procedure.on_date < admission.on_date:
        problems["procedure"] = (f"The procedure on {_day(procedure.on_date)} is before the admission on "
                                 f"{_day(admission.on_date)}.")
    first = procedure or admission
    if first is not None and discharge is not None and discharge.on_date < first.on_date:
        problems["discharge"] = (f"The expected discharge on {_day(discharge.on_date)} is before the "
                                 f"{'procedure' if procedure is not None else 'admission'} on {_day(first.on_date)}.")
    if arrives is not None and departs is not None:
        days = (departs - arrives).days
        if departs < arrives:
            problems["stay"] = (f"The return flight leaves on {_day(departs)}, before the outbound flight "
                                f"arrives on {_day(arrives)}.")
        elif stay_days is not None and days < stay_days:
            problems["stay"] = (f"The stay from the arrival on {_day(arrives)} to the return flight on "
                                f"{_day(departs)} is {days} day(s); the clinic's quote asks for at least "
                                f"{stay_days} day(s).")
    if departs is not None and discharge is not None and departs <= discharge.on_date:
        problems["return_departure"] = (f"The return flight leaves on {_day(departs)}, not after the expected "
                                        f"discharge on {_day(discharge.on_date)}; book it for a later day.")
    deadline = _passport_deadline(None, legs_by_kind) if departs is not None else None  # type: ignore[arg-type]
    late = [p for p in passports if _expiry_problem(p, deadline)]
    if late:
        problems["passport_expiry"] = "; ".join(
            f"{p.full_name}: {_expiry_problem(p, deadline)}" for p in late)
    if max_companions is not None:
        problem = companions_problem(companions, max_companions)
        if problem:
            problems["companions"] = problem
    return problems


# Which problems a form of each kind shows, at which of its fields.
_FIELD_OF: Final[dict[str, dict[str, str]]] = {
    LegKind.OUTBOUND_FLIGHT: {"arrival": "arrives", "stay": "arrives", "passport_expiry": "departs"},
    LegKind.RETURN_FLIGHT: {"stay": "departs", "return_departure": "departs", "passport_expiry": "departs"},
    LegKind.ADMISSION: {"arrival": "on_date", "procedure": "on_date", "discharge": "on_date"},
    LegKind.PROCEDURE: {"procedure": "on_date", "discharge": "on_date"},
    LegKind.DISCHARGE: {"discharge": "on_date", "return_departure": "on_date"},
}


def _passports(case: Case) -> list[Passport]:
    return [passport_of(t) for t in travellers(case)]


def _stay_days(case: Case) -> int | None:
    # Read by id, not through `case.chosen_quote`: loading that post-update relationship
    # inside a workflow action would cost the case a second version step.
    if case.chosen_quote_id is None:
        return None
    return db.session.scalar(select(Quote.stay_days).where(Quote.id == case.chosen_quote_id))


def trip_problems(case: Case, max_companions: int | None = None) -> dict[str, str]:
    """The trip's rules on what is recorded now (the staff page and "travel booked" read it)."""
    found = travellers(case)
    return check_dates(_facts(case), stay_days=_stay_days(case), passports=[passport_of(t) for t in found],
                       companions=sum(t.role == TravellerRole.COMPANION for t in found), max_companions=max_companions)


def _check_leg(case: Case, facts: LegFacts, *, replacing: TripLeg | None) -> None:
    """Refuse a leg that would break a rule the trip keeps now, at the form's fields."""
    before = check_dates(_facts(case), stay_days=_stay_days(case), passports=_passports(case))
    proposed = _facts(case, without=replacing.id if replacing is not None else None)
    if facts.kind in SINGLE:
        proposed[facts.kind] = facts
    after = check_dates(proposed, stay_days=_stay_days(case), passports=_passports(case))
    fields = _FIELD_OF.get(facts.kind, {})
    errors: dict[str, str] = {}
    for key, message in after.items():
        if key in fields and before.get(key) != message:
            errors.setdefault(fields[key], message)
    _refuse_if(errors)


def _summary(facts: LegFacts | TripLeg) -> str:
    """A line for the timeline: what the leg is and when, in staff English."""
    details = facts.details or {}
    if facts.kind in FLIGHTS:
        return (f"{details.get('flight_number', '')} {details.get('from_airport', '')}→{details.get('to_airport', '')} "
                f"{_stamp(local(facts.starts_at, facts.start_zone))} {facts.start_zone}")
    if facts.kind in CLINIC_DAYS:
        return _day(facts.on_date)
    what = details.get("name") or details.get("pickup_place") or ""
    return f"{what} {_stamp(local(facts.starts_at, facts.start_zone))} {facts.start_zone}"


def _leg_event(case: Case, actor: str, kind: events.EventKind, leg: TripLeg) -> None:
    events.record_event(case, actor, kind, leg=leg.kind, leg_label=KIND_LABELS[leg.kind], uid=leg.uid,
                        sequence=leg.sequence, summary=_summary(leg))
    paperwork_store.trip_changed(case)  # the itinerary and visa letters follow


def add_leg(case: Case, facts: LegFacts, actor: str) -> TripLeg:
    """A new leg (a new calendar event). One of each flight and clinic date at a time:
    a second is refused (change the first)."""
    _check_open(case)
    if facts.kind in SINGLE and active_leg(case, facts.kind) is not None:
        raise TripRefused(f"The case already has the {KIND_LABELS[facts.kind].lower()}; change it instead.")
    _check_leg(case, facts, replacing=None)
    leg = TripLeg(case_id=case.id, kind=facts.kind, details=dict(facts.details), starts_at=facts.starts_at,
                  start_zone=facts.start_zone, ends_at=facts.ends_at, end_zone=facts.end_zone,
                  on_date=facts.on_date, uid=new_uid(), sequence=0)
    db.session.add(leg)
    db.session.flush()
    _leg_event(case, actor, events.EventKind.LEG_ADDED, leg)
    return leg


def case_leg(case: Case, leg_id: int) -> TripLeg:
    leg = db.session.get(TripLeg, leg_id)
    if leg is None or leg.case_id != case.id:
        raise TripRefused("There is no such part of the trip on this case.")
    return leg


_STORED: Final = ("details", "starts_at", "start_zone", "ends_at", "end_zone", "on_date")


def _same(leg: TripLeg, facts: LegFacts) -> bool:
    def norm(value):
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value
    return all(norm(getattr(leg, name)) == norm(getattr(facts, name)) for name in _STORED)


def change_leg(case: Case, leg_id: int, facts: LegFacts, actor: str) -> TripLeg:
    """The leg changed: same `uid`, `sequence` + 1 (a calendar program updates the event)."""
    _check_open(case)
    leg = case_leg(case, leg_id)
    if leg.cancelled_at is not None:
        raise TripRefused("This part of the trip was removed; add it again instead.")
    if leg.kind != facts.kind:
        raise TripRefused("A leg keeps its kind; remove it and add one of the other kind.")
    if _same(leg, facts):
        raise TripRefused("Nothing changed; change at least one field.")
    _check_leg(case, facts, replacing=leg)
    for name in _STORED:
        setattr(leg, name, dict(facts.details) if name == "details" else getattr(facts, name))
    leg.sequence += 1
    leg.updated_at = _now()
    db.session.flush()
    _leg_event(case, actor, events.EventKind.LEG_CHANGED, leg)
    return leg


def cancel_leg(case: Case, leg_id: int, actor: str) -> TripLeg:
    """The leg is removed from the trip but kept, `cancelled_at` set and `sequence` + 1,
    so the calendar publishes it as cancelled."""
    _check_open(case)
    leg = case_leg(case, leg_id)
    if leg.cancelled_at is not None:
        raise TripRefused("This part of the trip was already removed.")
    leg.cancelled_at = _now()
    leg.sequence += 1
    db.session.flush()
    _leg_event(case, actor, events.EventKind.LEG_CANCELLED, leg)
    return leg


# ---------------------------------------------------------------- travel booked


def booking_problems(case: Case, max_companions: int) -> list[str]:
    """Why the case cannot move to "travel booked" yet (empty: it can)."""
    found: list[str] = []
    if active_leg(case, LegKind.OUTBOUND_FLIGHT) is None:
        found.append("Enter the outbound flight first.")
    if not any(t.role == TravellerRole.PATIENT for t in travellers(case)):
        found.append("Enter the patient's passport details first.")
    found.extend(trip_problems(case, max_companions).values())
    return found


# ---------------------------------------------------------------- the read model


@dataclass(frozen=True)
class Entry:
    """One thing on one day: a time (with its zone named) or none for a whole day."""

    kind: str
    title: str
    time: str
    detail: str
    leg_id: int
    cancelled: bool = False
    at: datetime | None = None  # the instant, to order a day whose entries are in two zones


@dataclass(frozen=True)
class Day:
    day: date
    label: str
    entries: list[Entry]


@dataclass(frozen=True)
class TravellerLine:
    id: int | None
    role: str
    name: str
    nationality: str = ""
    passport_number: str = ""
    passport_expiry: date | None = None
    date_of_birth: date | None = None


@dataclass(frozen=True)
class LegLine:
    """A leg for staff: the stored facts in local times."""

    leg: TripLeg
    label: str
    summary: str
    starts: str
    ends: str
    cancelled: bool


@dataclass(frozen=True)
class ClinicSummary:
    arrival_flight: str
    arrival_time: str
    admission: date | None


@dataclass(frozen=True)
class TripView:
    audience: Audience
    travellers: list[TravellerLine]
    days: list[Day]
    legs: list[LegLine]
    clinic: ClinicSummary | None
    problems: dict[str, str]

    @property
    def empty(self) -> bool:
        return not (self.travellers or self.days or self.legs or (self.clinic and (self.clinic.arrival_time or self.clinic.admission)))


def _patient_entries(leg: TripLeg) -> list[tuple[date, Entry]]:
    """The patient's wording of a leg, one entry per day it touches (in the page's language)."""
    d = leg.details or {}
    found: list[tuple[date, Entry]] = []

    def at(moment, zone, kind, title, detail=""):
        found.append((local(moment, zone).date(),
                      Entry(kind, title, zoned_time(moment, zone), detail, leg.id, at=local(moment, "UTC"))))

    if leg.kind in FLIGHTS:
        flight_name = " ".join(x for x in (d.get("airline"), d.get("flight_number")) if x)
        origin, destination = airport_city(d.get("from_airport", "")), airport_city(d.get("to_airport", ""))
        at(leg.starts_at, leg.start_zone, leg.kind,
           gettext("Flight %(flight)s leaves %(city)s (%(code)s)", flight=flight_name, city=origin,
                   code=d.get("from_airport", "")))
        at(leg.ends_at, leg.end_zone, leg.kind,
           gettext("Flight %(flight)s lands in %(city)s (%(code)s)", flight=flight_name, city=destination,
                   code=d.get("to_airport", "")))
    elif leg.kind == LegKind.STAY:
        at(leg.starts_at, leg.start_zone, leg.kind, gettext("Check in: %(name)s", name=d.get("name", "")),
           d.get("address", ""))
        at(leg.ends_at, leg.end_zone, leg.kind, gettext("Check out: %(name)s", name=d.get("name", "")),
           d.get("address", ""))
    elif leg.kind == LegKind.TRANSFER:
        at(leg.starts_at, leg.start_zone, leg.kind,
           gettext("Transfer: pick-up at %(place)s", place=d.get("pickup_place", "")),
           gettext("To %(place)s", place=d["destination"]) if d.get("destination") else "")
    elif leg.kind == LegKind.INTERPRETER:
        at(leg.starts_at, leg.start_zone, leg.kind,
           gettext("Interpreter %(name)s (%(language)s) meets you", name=d.get("name", ""),
                   language=d.get("language", "")),
           gettext("Until %(time)s", time=zoned_time(leg.ends_at, leg.end_zone)) if leg.ends_at else "")
    else:
        titles = {LegKind.ADMISSION: gettext("Admission to the clinic"),
                  LegKind.PROCEDURE: gettext("Procedure day"),
                  LegKind.DISCHARGE: gettext("Expected discharge from the clinic")}
        found.append((leg.on_date, Entry(leg.kind, titles[LegKind(leg.kind)], "", "", leg.id)))
    return found


def _days(active: list[TripLeg]) -> list[Day]:
    by_day: dict[date, list[Entry]] = {}
    for leg in active:
        for day, entry in _patient_entries(leg):
            by_day.setdefault(day, []).append(entry)
    # Whole-day entries first, then in the order they happen (a flight leaves in one zone, lands in another).
    earliest = datetime.min.replace(tzinfo=timezone.utc)
    return [Day(day, format_day(day), sorted(entries, key=lambda e: (e.at is not None, e.at or earliest)))
            for day, entries in sorted(by_day.items())]


def _staff_line(leg: TripLeg) -> LegLine:
    if leg.kind in CLINIC_DAYS:
        starts, ends = _day(leg.on_date), ""
    else:
        starts = f"{_day(local(leg.starts_at, leg.start_zone).date())} {zoned_time(leg.starts_at, leg.start_zone)}"
        ends = (f"{_day(local(leg.ends_at, leg.end_zone).date())} {zoned_time(leg.ends_at, leg.end_zone)}"
                if leg.ends_at is not None else "")
    return LegLine(leg, KIND_LABELS[leg.kind], _summary(leg), starts, ends, leg.cancelled_at is not None)


def chosen_referral(case: Case) -> Referral | None:
    if case.chosen_quote_id is None:
        return None
    return db.session.scalar(select(Referral).join(Quote, Quote.referral_id == Referral.id)
                             .where(Quote.id == case.chosen_quote_id))


def _released(case: Case) -> bool:
    referral = chosen_referral(case)
    return referral is not None and referral.contact_released_at is not None


def trip_view(case: Case, audience: Audience | str, *, max_companions: int | None = None) -> TripView:
    """What each audience sees of the trip, as plain data. The patient: every leg day by
    day, local times with their zone. The clinic: the arrival (flight and time) and the
    admission only, and the travellers' names only once contact details are released.
    Staff: everything, passports included, removed legs too, and the rules' problems."""
    audience = Audience(audience)
    found = travellers(case)
    if audience == Audience.CLINIC:
        outbound = active_leg(case, LegKind.OUTBOUND_FLIGHT)
        admission = active_leg(case, LegKind.ADMISSION)
        summary = ClinicSummary(
            arrival_flight=(outbound.details or {}).get("flight_number", "") if outbound else "",
            arrival_time=(f"{_day(local(outbound.ends_at, outbound.end_zone).date())} "
                          f"{zoned_time(outbound.ends_at, outbound.end_zone)}") if outbound else "",
            admission=admission.on_date if admission else None,
        )
        names = [TravellerLine(None, t.role, passport_of(t).full_name) for t in found] if _released(case) else []
        return TripView(audience, names, [], [], summary, {})
    if audience == Audience.PATIENT:
        names = [TravellerLine(None, t.role, passport_of(t).full_name) for t in found]
        return TripView(audience, names, _days(legs(case)), [], None, {})
    lines = []
    for t in found:
        p = passport_of(t)
        lines.append(TravellerLine(t.id, t.role, p.full_name, p.nationality, p.passport_number,
                                   p.passport_expiry, p.date_of_birth))
    return TripView(audience, lines, _days(legs(case)), [_staff_line(leg) for leg in legs(case, include_cancelled=True)],
                    None, trip_problems(case, max_companions))


# ---------------------------------------------------------------- erasure


def erase_trip(case: Case) -> tuple[int, int]:
    """Erasure: the travellers and the legs are deleted (counted in the data_erased event)."""
    removed = db.session.execute(delete(Traveller).where(Traveller.case_id == case.id)).rowcount or 0
    dropped = db.session.execute(delete(TripLeg).where(TripLeg.case_id == case.id)).rowcount or 0
    return removed, dropped


# ---------------------------------------------------------------- reminders


def reminder_step(departs: datetime, now: datetime) -> int | None:
    """The reminder step (days, `limits.TRIP_REMINDER_DAYS`) reached by `now` for a flight
    leaving at `departs`: the smallest whose moment has passed; None before the first or
    once the flight left."""
    if departs.tzinfo is None:
        departs = departs.replace(tzinfo=timezone.utc)
    if now >= departs:
        return None
    reached = [days for days in limits.TRIP_REMINDER_DAYS if departs - timedelta(days=days) <= now]
    return min(reached) if reached else None


def reminder_values(case: Case, leg_id: int | None, days: int | None) -> dict[str, str] | None:
    """What the reminder e-mail says of the flight (no health data): None if the flight
    is gone, cancelled or has left."""
    leg = db.session.get(TripLeg, leg_id) if leg_id is not None else None
    if leg is None or leg.case_id != case.id or leg.cancelled_at is not None or leg.starts_at is None:
        return None
    departs = leg.starts_at if leg.starts_at.tzinfo else leg.starts_at.replace(tzinfo=timezone.utc)
    if departs <= _now():
        return None
    d = leg.details or {}
    return {"flight": d.get("flight_number", ""), "city": airport_city(d.get("from_airport", "")),
            "time": f"{local(departs, leg.start_zone):%H:%M}", "zone": leg.start_zone or "UTC",
            "days": str(days or 0)}


# ---------------------------------------------------------------- the clinic's dates


def set_clinic_dates(case: Case, dates: dict[str, date | None], actor: str) -> list[TripLeg]:
    """The clinic's dates at once (admission, procedure, expected discharge; None removes
    one), checked together so that moving all three is one change, not three that each
    break the others. Raises `TripRefused` keyed by kind; the legs changed."""
    _check_open(case)
    wanted = {LegKind(kind).value: day for kind, day in dates.items() if LegKind(kind) in CLINIC_DAYS}
    current = {kind: active_leg(case, kind) for kind in wanted}
    proposed = _facts(case)
    for kind, day in wanted.items():
        if day is None:
            proposed.pop(kind, None)
        else:
            proposed[kind] = LegFacts(kind, on_date=day)
    before = check_dates(_facts(case), stay_days=_stay_days(case), passports=_passports(case))
    after = check_dates(proposed, stay_days=_stay_days(case), passports=_passports(case))
    errors: dict[str, str] = {}
    for kind in wanted:
        for key, message in after.items():
            if key in _FIELD_OF[kind] and before.get(key) != message:
                errors.setdefault(kind, message)
    _refuse_if(errors)
    changed = []
    for kind, day in wanted.items():
        leg = current[kind]
        if day is None and leg is not None:
            changed.append(cancel_leg(case, leg.id, actor))
        elif day is not None and leg is None:
            leg = TripLeg(case_id=case.id, kind=kind, details={}, on_date=day, uid=new_uid(), sequence=0)
            db.session.add(leg)
            db.session.flush()
            _leg_event(case, actor, events.EventKind.LEG_ADDED, leg)
            changed.append(leg)
        elif day is not None and leg.on_date != day:
            leg.on_date = day
            leg.sequence += 1
            leg.updated_at = _now()
            db.session.flush()
            _leg_event(case, actor, events.EventKind.LEG_CHANGED, leg)
            changed.append(leg)
    return changed
