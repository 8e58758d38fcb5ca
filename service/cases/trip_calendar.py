"""The trip as an iCalendar file (RFC 5545) the patient imports into any calendar program.

Calendar programs match an event by its UID and keep the copy with the highest
SEQUENCE, so every leg keeps its `TripLeg.uid` for life and publishes the sequence the
domain raised on each change; a removed leg stays in the file as STATUS:CANCELLED (a
program that imported it before then drops it). Times carry the TZID of the zone where
they happen (a flight departs in one zone and lands in another), and the file holds a
VTIMEZONE for every zone it names, so a program that lacks the zone, or knows an older
rule for it, still shows the right local time. The clinic's dates are all-day events.

Nothing of the case's health data goes in: a calendar is synchronised to phones and
shared with family. Summaries say "Admission — <clinic>", never the treatment."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final

from flask import current_app
from icalendar import Calendar, Event
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from service.extensions import db
from service.models import Case
from service.models.trip import LegKind, TripLeg
from service.paperwork import wording
from service.paperwork.trip import airport_city, flight_label, local_time

PRODID: Final = "-//Medtour//Trip calendar 1.0//EN"
# A transfer or interpreter booked by its start only still needs an end on a calendar.
DEFAULT_DURATION: Final = timedelta(hours=1)
FLIGHTS: Final = frozenset({LegKind.OUTBOUND_FLIGHT, LegKind.RETURN_FLIGHT})
CLINIC_DAYS: Final = frozenset({LegKind.ADMISSION, LegKind.PROCEDURE, LegKind.DISCHARGE})


def trip_calendar(
    legs: Iterable[TripLeg],
    *,
    reference: str,
    clinic_name: str,
    clinic_address: str | None = None,
    language: str | None = None,
    stamp: datetime | None = None,
) -> bytes:
    """The legs (cancelled ones included) as one VCALENDAR, its words in ``language``."""
    _ = wording.words(language)
    stamp = (stamp or datetime.now(timezone.utc)).astimezone(timezone.utc)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _("Your trip — %(reference)s", reference=reference))
    first: date | None = None
    for leg in sorted(legs, key=_order):
        event = _event(leg, _, clinic_name, clinic_address, stamp)
        if event is None:
            continue
        calendar.add_component(event)
        start = event.decoded("dtstart")
        day = start.date() if isinstance(start, datetime) else start
        first = day if first is None or day < first else first
    # Rules from a year before the trip: enough for any program, and the file stays small.
    since = date((first or stamp.date()).year - 1, 1, 1)
    calendar.add_missing_timezones(first_date=since, last_date=since.replace(year=since.year + 4))
    return calendar.to_ical()


def _order(leg: TripLeg) -> tuple[Any, int]:
    when = leg.starts_at or (datetime.combine(leg.on_date, datetime.min.time(), timezone.utc) if leg.on_date
                             else datetime.max.replace(tzinfo=timezone.utc))
    return when, leg.id or 0


def _event(
    leg: TripLeg, _: wording.Words, clinic_name: str, clinic_address: str | None, stamp: datetime
) -> Event | None:
    summary, location = describe(leg, _, clinic_name, clinic_address)
    event = Event()
    event.add("uid", leg.uid)
    event.add("dtstamp", stamp)
    event.add("sequence", leg.sequence or 0)
    event.add("summary", summary)
    if location:
        event.add("location", location)
    if leg.kind in CLINIC_DAYS:
        if leg.on_date is None:
            return None
        event.add("dtstart", leg.on_date)
        event.add("dtend", leg.on_date + timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    else:
        if leg.starts_at is None:
            return None
        start = local_time(leg.starts_at, leg.start_zone)
        end = local_time(leg.ends_at, leg.end_zone or leg.start_zone) if leg.ends_at else start + DEFAULT_DURATION
        event.add("dtstart", start)
        event.add("dtend", end)
    event.add("status", "CANCELLED" if leg.cancelled_at is not None else "CONFIRMED")
    return event


def describe(
    leg: TripLeg, _: wording.Words, clinic_name: str, clinic_address: str | None
) -> tuple[str, str]:
    """A leg's summary and location, in the calendar's language, with no health data."""
    details = leg.details or {}
    kind = leg.kind
    if kind in FLIGHTS:
        origin, destination = details.get("from_airport"), details.get("to_airport")
        summary = _("Flight %(flight)s %(origin)s → %(destination)s", flight=flight_label(details),
                       origin=airport_city(origin), destination=airport_city(destination))
        return " ".join(summary.split()), (str(origin or "").upper() + " → " + str(destination or "").upper())
    if kind == LegKind.STAY:
        return _("Stay — %(name)s", name=details.get("name") or ""), str(details.get("address") or "")
    if kind == LegKind.TRANSFER:
        pickup = str(details.get("pickup_place") or details.get("pickup") or "")
        return _("Transfer — pick-up at %(place)s", place=pickup), pickup
    if kind == LegKind.INTERPRETER:
        name = str(details.get("name") or "")
        language = str(details.get("language") or "")
        summary = _("Interpreter — %(name)s", name=name) + (f" ({language})" if language else "")
        return summary, clinic_address or clinic_name
    label = {
        LegKind.ADMISSION: _("Admission — %(clinic)s", clinic=clinic_name),
        LegKind.PROCEDURE: _("Treatment day — %(clinic)s", clinic=clinic_name),
        LegKind.DISCHARGE: _("Expected discharge — %(clinic)s", clinic=clinic_name),
    }.get(LegKind(kind), clinic_name)
    return label, ", ".join(part for part in (clinic_name, clinic_address or "") if part)


# --------------------------------------------------------------------------- the e-mail's link

# The lifecycle e-mails cannot carry the status link (the case keeps only its hash), so
# the calendar has a link of its own: the case id and a fingerprint of the status
# token's hash, signed with SECRET_KEY. It opens the calendar and nothing else (no
# health data is in it), and dies with the status link (rotation, erasure).
_FEED_SALT: Final = "medtour-trip-calendar"


def _fingerprint(case: Case) -> str:
    return hashlib.sha256(f"calendar:{case.token_hash}".encode()).hexdigest()[:16]


def feed_key(case: Case) -> str:
    """The calendar link's key for `case` (`GET /s/calendar/<key>/trip.ics`)."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_FEED_SALT).dumps([case.id, _fingerprint(case)])


def case_for_feed_key(key: str) -> Case | None:
    """The case a calendar key opens; None for a forged key or a status link replaced since."""
    try:
        case_id, fingerprint = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_FEED_SALT).loads(key)
    except (BadSignature, ValueError, TypeError):
        return None
    case = db.session.get(Case, case_id) if isinstance(case_id, int) else None
    if case is None or case.erased_at is not None or not hmac.compare_digest(str(fingerprint), _fingerprint(case)):
        return None
    return case


def case_calendar(case: Case) -> bytes:
    """The case's calendar as it stands: every leg, cancelled ones included, the chosen clinic's name and address."""
    legs = db.session.scalars(select(TripLeg).where(TripLeg.case_id == case.id).order_by(TripLeg.id))
    quote = case.chosen_quote
    clinic = quote.referral.clinic if quote is not None else None
    return trip_calendar(
        legs, reference=case.reference, clinic_name=clinic.name if clinic is not None else "",
        clinic_address=clinic.address if clinic is not None else None, language=case.language,
    )
