"""The trip's calendar read back with icalendar, as a calendar program would: a
VTIMEZONE for every zone, each time in its own zone and at the right instant, one UID
per leg for life, SEQUENCE raised on a change, a removed leg cancelled; and the route
behind the status link."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar

from service.cases.tokens import new_token
from service.cases.trip_calendar import airport_city, flight_label, trip_calendar
from service.extensions import db
from service.models.trip import LegKind
from tests.fixtures.trips import ALMATY, ISTANBUL, chosen_case, make_leg, standard_trip

CLINIC = "Bosphorus Orthopaedic Hospital"
ADDRESS = "Barbaros Bulvarı 112, 34353 Beşiktaş, Istanbul"


def ics(legs, **kw) -> Calendar:
    body = trip_calendar(list(legs), reference="MT-2099-000001", clinic_name=CLINIC, clinic_address=ADDRESS, **kw)
    return Calendar.from_ical(body)


def events(calendar: Calendar) -> dict[str, object]:
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def test_a_flight_departs_in_its_zone_and_lands_in_the_other(db_session):
    case = chosen_case()
    legs = standard_trip(case)
    calendar = ics(legs.values())
    assert str(calendar["method"]) == "PUBLISH" and str(calendar["version"]) == "2.0"
    assert "Medtour" in str(calendar["prodid"]) and "MT-2099-000001" in str(calendar["x-wr-calname"])
    assert {str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")} == {ALMATY, ISTANBUL}
    flight = events(calendar)[legs["outbound"].uid]
    assert flight["dtstart"].params["TZID"] == ALMATY and flight["dtend"].params["TZID"] == ISTANBUL
    start, end = flight.decoded("dtstart"), flight.decoded("dtend")
    assert start == legs["outbound"].starts_at and end == legs["outbound"].ends_at  # the same instants
    assert (start.hour, start.minute, end.hour, end.minute) == (7, 10, 10, 5)      # local wall clocks
    assert str(flight["summary"]) == "Flight TK 417 Almaty → Istanbul"
    back = events(calendar)[legs["return"].uid]
    assert back["dtstart"].params["TZID"] == ISTANBUL and back["dtend"].params["TZID"] == ALMATY
    assert back.decoded("dtend").astimezone(timezone.utc) == legs["return"].ends_at


def test_the_zone_rules_in_the_file_give_the_right_offsets(db_session):
    """A program without its own zone database uses the VTIMEZONE: its offsets must be today's rules."""
    case = chosen_case()
    legs = standard_trip(case)
    calendar = ics(legs.values())
    day = legs["outbound"].starts_at.date()
    for tz in calendar.walk("VTIMEZONE"):
        zone = tz.to_tz()
        name = str(tz["tzid"])
        local = datetime.combine(day, datetime.min.time()) + timedelta(hours=12)
        assert local.replace(tzinfo=zone).utcoffset() == local.replace(tzinfo=ZoneInfo(name)).utcoffset(), name


def test_the_clinic_days_are_all_day_events_without_health_data(db_session):
    case = chosen_case()
    legs = standard_trip(case)
    body = trip_calendar(list(legs.values()), reference=case.reference, clinic_name=CLINIC, clinic_address=ADDRESS)
    found = events(Calendar.from_ical(body))
    admission = found[legs["admission"].uid]
    assert admission.decoded("dtstart") == legs["admission"].on_date
    assert not isinstance(admission.decoded("dtstart"), datetime)
    assert admission.decoded("dtend") == legs["admission"].on_date + timedelta(days=1)
    assert str(admission["summary"]) == f"Admission — {CLINIC}" and ADDRESS in str(admission["location"])
    assert case.treatment.name.encode() not in body and b"Knee" not in body


def test_a_changed_leg_keeps_its_uid_and_raises_its_sequence(db_session):
    case = chosen_case()
    legs = standard_trip(case)
    flight = legs["outbound"]
    before = events(ics(legs.values()))[flight.uid]
    flight.starts_at += timedelta(hours=2)
    flight.ends_at += timedelta(hours=2)
    flight.sequence += 1
    db.session.flush()
    after = events(ics(legs.values()))[flight.uid]
    assert int(after["sequence"]) == int(before["sequence"]) + 1
    assert after.decoded("dtstart") - before.decoded("dtstart") == timedelta(hours=2)
    assert len(events(ics(legs.values()))) == len(legs)  # still one event per leg


def test_a_removed_leg_is_published_cancelled(db_session):
    case = chosen_case()
    legs = standard_trip(case)
    transfer = legs["transfer"]
    transfer.cancelled_at = datetime.now(timezone.utc)
    transfer.sequence += 1
    db.session.flush()
    found = events(ics(legs.values()))
    assert str(found[transfer.uid]["status"]) == "CANCELLED" and int(found[transfer.uid]["sequence"]) == 1
    assert str(found[legs["stay"].uid]["status"]) == "CONFIRMED"


def test_russian_words_and_a_leg_without_a_time_left_out(db_session):
    case = chosen_case(language="ru")
    legs = standard_trip(case)
    empty = make_leg(case, LegKind.TRANSFER, details={"pickup_place": "Hotel"})
    found = events(ics([*legs.values(), empty], language="ru"))
    assert empty.uid not in found
    assert str(found[legs["outbound"].uid]["summary"]).startswith("Рейс TK 417")


def test_labels():
    assert flight_label({"airline": "Turkish Airlines", "flight_number": "TK 417"}) == "TK 417"
    assert flight_label({"airline": "KC", "flight_number": "701"}) == "KC 701"
    assert airport_city("ist") == "Istanbul" and airport_city("XXQ") == "XXQ"


def test_the_route_serves_the_calendar_behind_the_status_link(client):
    token, digest = new_token()
    case = chosen_case(token_hash=digest)
    legs = standard_trip(case)
    db.session.commit()
    answer = client.get(f"/s/{token}/trip.ics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{case.reference}-trip.ics"'
    assert answer.headers["Cache-Control"] == "no-store" and answer.headers["Referrer-Policy"] == "no-referrer"
    calendar = Calendar.from_ical(answer.data)
    assert set(events(calendar)) == {leg.uid for leg in legs.values()}
    assert case.chosen_quote.referral.clinic.name in str(events(calendar)[legs["admission"].uid]["summary"])
    assert client.get(f"/s/{new_token()[0]}/trip.ics").status_code == 404
    assert date.today() <= legs["admission"].on_date


def test_the_emailed_calendar_link_opens_the_calendar_only_until_the_link_is_replaced(client):
    from service.cases import trip_calendar
    from service.cases.patient_mail import calendar_url

    token, digest = new_token()
    case = chosen_case(token_hash=digest)
    legs = standard_trip(case)
    db.session.commit()
    url = calendar_url(case)
    assert "/s/calendar/" in url and token not in url
    path = url.split("://", 1)[1].split("/", 1)[1]
    answer = client.get("/" + path)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert set(events(Calendar.from_ical(answer.data))) == {leg.uid for leg in legs.values()}
    assert client.get("/" + path.replace("/trip.ics", "x/trip.ics")).status_code == 404  # tampered
    other = chosen_case()
    assert trip_calendar.case_for_feed_key(trip_calendar.feed_key(other)) == other
    case.token_hash = new_token()[1]  # the status link was rotated
    db.session.commit()
    assert client.get("/" + path).status_code == 404


def test_the_travel_booked_email_carries_the_calendar_link(client, app, smtp_server, smtp_url):
    import re

    from service.cases import patient_mail

    token, digest = new_token()
    case = chosen_case(token_hash=digest)
    legs = standard_trip(case)
    db.session.commit()
    app.config["MAIL_URL"] = smtp_url
    try:
        assert patient_mail.send(case, patient_mail.PatientEvent.TRAVEL_BOOKED)
    finally:
        app.config["MAIL_URL"] = None
    message = [m for e, m in zip(smtp_server.envelopes, smtp_server.messages()) if case.email in e.rcpt_tos][-1]
    text = message.get_content()
    link = re.search(r"https?://\S+/s/calendar/\S+/trip\.ics", text)
    assert link, text
    assert token not in text
    answer = client.get("/" + link[0].split("://", 1)[1].split("/", 1)[1])
    assert set(events(Calendar.from_ical(answer.data))) == {leg.uid for leg in legs.values()}
