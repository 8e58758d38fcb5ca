"""The trip's forms (staff console and the chosen clinic's dates). They only parse what
was typed: local dates and times as the wall clock where each happens. What makes a
traveller or a leg acceptable is decided by `service.cases.trip` (its
`TripRefused.errors` are shown next to these fields, with what was typed kept)."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from service.cases import trip
from service.cases.trip import Passport
from service.models.trip import LegKind, TravellerRole, TripLeg

# The browser's datetime-local control sends "2026-05-12T07:10"; typed by hand, a space.
_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _when(label: str, message: str, description: str = "") -> DateTimeLocalField:
    return DateTimeLocalField(label, format=_LOCAL_FORMATS, validators=[InputRequired(message)],
                              description=description)


class TravellerForm(FlaskForm):
    """One traveller, exactly as the passport prints it."""

    role = SelectField("Travels as", choices=[SelectChoice(TravellerRole.PATIENT.value, "The patient"),
                                              SelectChoice(TravellerRole.COMPANION.value, "A companion")])
    given_names = StringField("Given names (as in the passport)", filters=[_strip],
                              description="Latin letters exactly as printed, e.g. Aigerim.")
    surname = StringField("Surname (as in the passport)", filters=[_strip])
    nationality = StringField("Nationality", filters=[_strip], description="ISO 3166-1 code, e.g. KZ.")
    passport_number = StringField("Passport number", filters=[_strip])
    passport_expiry = DateField("Passport valid until", validators=[InputRequired("Enter the expiry date (YYYY-MM-DD).")])
    date_of_birth = DateField("Date of birth", validators=[InputRequired("Enter the date of birth (YYYY-MM-DD).")])

    def passport(self) -> Passport:
        return Passport(given_names=self.given_names.data or "", surname=self.surname.data or "",
                        nationality=self.nationality.data or "", passport_number=self.passport_number.data or "",
                        passport_expiry=self.passport_expiry.data, date_of_birth=self.date_of_birth.data)

    @classmethod
    def of(cls, role: str, passport: Passport, prefix: str = "") -> TravellerForm:
        return cls(formdata=None, prefix=prefix, role=role, given_names=passport.given_names, surname=passport.surname,
                   nationality=passport.nationality, passport_number=passport.passport_number,
                   passport_expiry=passport.passport_expiry, date_of_birth=passport.date_of_birth)


class FlightForm(FlaskForm):
    airline = StringField("Airline", filters=[_strip])
    flight_number = StringField("Flight number", filters=[_strip], description="As on the ticket, e.g. TK 417.")
    from_airport = StringField("From (IATA airport)", filters=[_strip], description="Three letters, e.g. ALA.")
    departs = _when("Departs (local time at that airport)", "Enter the local departure date and time.")
    to_airport = StringField("To (IATA airport)", filters=[_strip], description="Three letters, e.g. IST.")
    arrives = _when("Arrives (local time at that airport)", "Enter the local arrival date and time.")

    def facts(self, kind: str, zone: str) -> trip.LegFacts:
        return trip.flight(kind, airline=self.airline.data, flight_number=self.flight_number.data,
                           from_airport=self.from_airport.data, departs=self.departs.data,
                           to_airport=self.to_airport.data, arrives=self.arrives.data)

    def fill(self, leg: TripLeg) -> None:
        d = leg.details or {}
        self.airline.data, self.flight_number.data = d.get("airline"), d.get("flight_number")
        self.from_airport.data, self.to_airport.data = d.get("from_airport"), d.get("to_airport")
        self.departs.data = _naive(trip.local(leg.starts_at, leg.start_zone))
        self.arrives.data = _naive(trip.local(leg.ends_at, leg.end_zone))


class StayForm(FlaskForm):
    name = StringField("Hotel or flat", filters=[_strip])
    address = StringField("Address", filters=[_strip])
    check_in = _when("Check-in (local time)", "Enter the check-in date and time.")
    check_out = _when("Check-out (local time)", "Enter the check-out date and time.")

    def facts(self, kind: str, zone: str) -> trip.LegFacts:
        return trip.stay(name=self.name.data, address=self.address.data, check_in=self.check_in.data,
                         check_out=self.check_out.data, zone=zone)

    def fill(self, leg: TripLeg) -> None:
        d = leg.details or {}
        self.name.data, self.address.data = d.get("name"), d.get("address")
        self.check_in.data = _naive(trip.local(leg.starts_at, leg.start_zone))
        self.check_out.data = _naive(trip.local(leg.ends_at, leg.end_zone))


class TransferForm(FlaskForm):
    pickup_place = StringField("Pick-up place", filters=[_strip], description="e.g. Istanbul Airport, arrivals, meeting point 4.")
    destination = StringField("To", filters=[_strip], validators=[Optional()])
    pickup = _when("Pick-up (local time)", "Enter the pick-up date and time.")

    def facts(self, kind: str, zone: str) -> trip.LegFacts:
        return trip.transfer(pickup_place=self.pickup_place.data, destination=self.destination.data or "",
                             pickup=self.pickup.data, zone=zone)

    def fill(self, leg: TripLeg) -> None:
        d = leg.details or {}
        self.pickup_place.data, self.destination.data = d.get("pickup_place"), d.get("destination")
        self.pickup.data = _naive(trip.local(leg.starts_at, leg.start_zone))


class InterpreterForm(FlaskForm):
    name = StringField("Interpreter's name", filters=[_strip])
    language = StringField("Language", filters=[_strip], description="e.g. Russian.")
    starts = _when("From (local time)", "Enter when the interpreter starts.")
    ends = _when("Until (local time)", "Enter when the interpreter's booking ends.")

    def facts(self, kind: str, zone: str) -> trip.LegFacts:
        return trip.interpreter(name=self.name.data, language=self.language.data, starts=self.starts.data,
                                ends=self.ends.data, zone=zone)

    def fill(self, leg: TripLeg) -> None:
        d = leg.details or {}
        self.name.data, self.language.data = d.get("name"), d.get("language")
        self.starts.data = _naive(trip.local(leg.starts_at, leg.start_zone))
        self.ends.data = _naive(trip.local(leg.ends_at, leg.end_zone))


class ClinicDayForm(FlaskForm):
    on_date = DateField("Date", validators=[InputRequired("Enter the date (YYYY-MM-DD).")])

    def facts(self, kind: str, zone: str) -> trip.LegFacts:
        return trip.clinic_day(kind, self.on_date.data)

    def fill(self, leg: TripLeg) -> None:
        self.on_date.data = leg.on_date


class ClinicDatesForm(FlaskForm):
    """The chosen clinic's three dates at once (any may stay empty)."""

    admission = DateField("Admission", validators=[Optional()])
    procedure = DateField("Procedure", validators=[Optional()])
    discharge = DateField("Expected discharge", validators=[Optional()])


def _naive(moment: Any) -> Any:
    return moment.replace(tzinfo=None) if moment is not None else None


# The form for each kind of leg.
LEG_FORMS: dict[str, type[FlaskForm]] = {
    LegKind.OUTBOUND_FLIGHT: FlightForm,
    LegKind.RETURN_FLIGHT: FlightForm,
    LegKind.STAY: StayForm,
    LegKind.TRANSFER: TransferForm,
    LegKind.INTERPRETER: InterpreterForm,
    LegKind.ADMISSION: ClinicDayForm,
    LegKind.PROCEDURE: ClinicDayForm,
    LegKind.DISCHARGE: ClinicDayForm,
}
