"""The trip: travellers, legs, the checks at the field, the three audiences' views,
erasure and the reminders before the flight."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from service.cases import erasure, patient_mail, trip, workflow
from service.cases.status import CaseStatus
from service.cases.trip import passport_of
from service.extensions import db
from service.models import CaseEvent, Notification, OutboxMessage, Traveller, TripLeg
from service.models.trip import LegKind, TravellerRole
from tests.fixtures.trips import (ALMATY, ISTANBUL, add_passport, chosen_case, departure_day, full_trip, passport,
                                  standard_trip)

STAFF = "staff:coordinator@medtour.example"


def kinds(case) -> list[str]:
    return list(db.session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def last_details(case) -> dict:
    return db.session.scalars(select(CaseEvent.details).where(CaseEvent.case_id == case.id)
                              .order_by(CaseEvent.id.desc())).first()


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm)


def outbound_facts(day: date, *, arrives: tuple[int, int] = (10, 5), arrival_day: date | None = None):
    return trip.flight(LegKind.OUTBOUND_FLIGHT, airline="Turkish Airlines", flight_number="tk417",
                       from_airport="ala", departs=at(day, 7, 10), to_airport="IST",
                       arrives=at(arrival_day or day, *arrives))


def return_facts(day: date):
    return trip.flight(LegKind.RETURN_FLIGHT, airline="Turkish Airlines", flight_number="TK 416",
                       from_airport="IST", departs=at(day, 19, 40), to_airport="ALA",
                       arrives=at(day + timedelta(days=1), 3, 55))


# ---------------------------------------------------------------- the fixture


def test_the_fixture_builds_a_chosen_case_with_the_standard_trip(db_session):
    case, legs = full_trip()
    assert case.status == CaseStatus.CHOSEN
    assert legs["outbound"].start_zone == ALMATY and legs["outbound"].end_zone == ISTANBUL
    assert (legs["outbound"].starts_at.hour, legs["outbound"].starts_at.minute) == (2, 10)  # 07:10 +05:00
    assert case.chosen_quote.referral.clinic.slug == "bosphorus-ortho-istanbul"
    assert trip.trip_problems(case, 2) == {}
    assert [t.role for t in trip.travellers(case)] == ["patient", "companion"]


# ---------------------------------------------------------------- travellers


@pytest.mark.parametrize(("name", "ok"), [
    ("Aigerim", True), ("Zoë", True), ("Nguyễn Văn", True), ("O'Brien", True), ("Smith-Jones", True),
    ("Müller Łukasz", True), ("Айгерим", False), ("Ai3gerim", False), ("", False), ("李", False), ("---", False),
])
def test_names_must_be_in_latin_script_as_in_the_passport(name, ok):
    assert (trip.check_name(name, "given names") is None) == ok


def test_a_cyrillic_name_is_refused_with_a_message_to_type_it_as_in_the_passport(db_session):
    case = chosen_case()
    with pytest.raises(trip.TripRefused) as refused:
        trip.add_traveller(case, passport(surname="Нурланова"), STAFF, role=TravellerRole.PATIENT, max_companions=2)
    message = refused.value.errors["surname"]
    assert "Cyrillic" in message and "as in the passport" in message
    assert set(refused.value.errors) == {"surname"}
    assert db.session.scalar(select(func.count(Traveller.id)).where(Traveller.case_id == case.id)) == 0


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"nationality": "XX"}, "nationality", "ISO 3166-1"),
    ({"passport_number": "N1"}, "passport_number", "5 to 20"),
    ({"passport_number": "N123/4567"}, "passport_number", "5 to 20"),
    ({"passport_expiry": date(2020, 1, 1)}, "passport_expiry", "expired"),
    ({"date_of_birth": date(2999, 1, 1)}, "date_of_birth", "in the past"),
])
def test_each_passport_field_is_checked(db_session, changes, field, words):
    case = chosen_case()
    with pytest.raises(trip.TripRefused) as refused:
        trip.add_traveller(case, passport(**changes), STAFF, role=TravellerRole.PATIENT, max_companions=2)
    assert words in refused.value.errors[field]


def test_the_passport_is_sealed_normalised_and_never_on_the_timeline(db_session):
    case = chosen_case()
    traveller = trip.add_traveller(case, passport(passport_number="n 1234-5678", nationality="kz"), STAFF,
                                   role=TravellerRole.PATIENT, max_companions=2)
    assert "N12345678" not in traveller.sealed and "Nurlanova" not in traveller.sealed
    assert passport_of(traveller).passport_number == "N12345678" and passport_of(traveller).nationality == "KZ"
    details = last_details(case)
    assert kinds(case)[-1] == "traveller_added"
    assert details["traveller"] == "NURLANOVA Aigerim" and "N12345678" not in str(details)


def test_companions_within_the_limit(db_session):
    case = chosen_case()
    trip.add_traveller(case, passport(), STAFF, role=TravellerRole.PATIENT, max_companions=1)
    trip.add_traveller(case, passport(given_names="Nurlan"), STAFF, max_companions=1)
    with pytest.raises(trip.TripRefused) as refused:
        trip.add_traveller(case, passport(given_names="Dana"), STAFF, max_companions=1)
    assert refused.value.errors["role"] == "At most 1 companion(s) can travel with the patient; this would make 2."
    with pytest.raises(trip.TripRefused, match="already on the trip"):
        trip.add_traveller(case, passport(), STAFF, role=TravellerRole.PATIENT, max_companions=1)
    assert trip.companions_problem(3, 2) and trip.companions_problem(2, 2) is None


def test_a_traveller_changed_and_removed_goes_on_the_timeline(db_session):
    case = chosen_case()
    traveller = trip.add_traveller(case, passport(), STAFF, role=TravellerRole.PATIENT, max_companions=2)
    trip.change_traveller(case, traveller.id, passport(given_names="Aigerim Nurlanqyzy"), STAFF)
    assert passport_of(traveller).given_names == "Aigerim Nurlanqyzy"
    with pytest.raises(trip.TripRefused, match="Nothing changed"):
        trip.change_traveller(case, traveller.id, passport(given_names="Aigerim Nurlanqyzy"), STAFF)
    trip.remove_traveller(case, traveller.id, STAFF)
    assert trip.travellers(case) == []
    assert kinds(case)[-3:] == ["traveller_added", "traveller_changed", "traveller_removed"]


# ---------------------------------------------------------------- legs


def test_a_flight_is_stored_in_utc_with_each_airports_zone(db_session):
    facts = outbound_facts(date(2027, 7, 1))
    assert (facts.start_zone, facts.end_zone) == ("Asia/Almaty", "Europe/Istanbul")
    assert facts.starts_at == datetime(2027, 7, 1, 2, 10, tzinfo=timezone.utc)
    assert facts.ends_at == datetime(2027, 7, 1, 7, 5, tzinfo=timezone.utc)
    assert facts.details["flight_number"] == "TK 417" and facts.details["from_airport"] == "ALA"


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"flight_number": "417"}, "flight_number", "TK 417"),
    ({"from_airport": "QQQ"}, "from_airport", "IATA"),
    ({"to_airport": "ALA"}, "to_airport", "another airport"),
    ({"arrives": datetime(2027, 7, 1, 4, 0)}, "arrives", "before it leaves"),
    ({"departs": None}, "departs", "departure"),
])
def test_a_flight_is_checked_at_its_fields(changes, field, words):
    values = dict(airline="Turkish Airlines", flight_number="TK 417", from_airport="ALA",
                  departs=datetime(2027, 7, 1, 7, 10), to_airport="IST", arrives=datetime(2027, 7, 1, 10, 5))
    values.update(changes)
    with pytest.raises(trip.TripRefused) as refused:
        trip.flight(LegKind.OUTBOUND_FLIGHT, **values)
    assert words in refused.value.errors[field]


def test_the_stay_and_transfers_are_local_to_the_clinics_city(db_session):
    case = chosen_case()
    assert trip.clinic_zone(case) == "Europe/Istanbul"  # the clinic's country, before any flight
    stay = trip.stay(name="Hotel", address="Street 1", check_in=datetime(2027, 7, 1, 14, 0),
                     check_out=datetime(2027, 7, 10, 12, 0), zone=trip.clinic_zone(case))
    assert stay.starts_at == datetime(2027, 7, 1, 11, 0, tzinfo=timezone.utc)
    with pytest.raises(trip.TripRefused) as refused:
        trip.stay(name="Hotel", address="Street 1", check_in=datetime(2027, 7, 10, 14, 0),
                  check_out=datetime(2027, 7, 1, 12, 0), zone="Europe/Istanbul")
    assert "after check-in" in refused.value.errors["check_out"]


def test_a_changed_leg_keeps_its_uid_and_raises_its_sequence_a_removed_one_is_kept(db_session):
    case = chosen_case()
    day = departure_day()
    leg = trip.add_leg(case, outbound_facts(day), STAFF)
    uid = leg.uid
    assert uid.endswith("@medtour") and leg.sequence == 0
    trip.change_leg(case, leg.id, outbound_facts(day, arrives=(10, 35)), STAFF)
    assert (leg.uid, leg.sequence) == (uid, 1)
    with pytest.raises(trip.TripRefused, match="Nothing changed"):
        trip.change_leg(case, leg.id, outbound_facts(day, arrives=(10, 35)), STAFF)
    trip.cancel_leg(case, leg.id, STAFF)
    db.session.expire_all()
    kept = db.session.get(TripLeg, leg.id)
    assert kept.uid == uid and kept.cancelled_at is not None and kept.sequence == 2
    assert trip.active_leg(case, LegKind.OUTBOUND_FLIGHT) is None
    assert kinds(case)[-3:] == ["leg_added", "leg_changed", "leg_cancelled"]
    assert last_details(case)["uid"] == uid and "TK 417" in last_details(case)["summary"]


def test_one_outbound_flight_at_a_time(db_session):
    case = chosen_case()
    trip.add_leg(case, outbound_facts(departure_day()), STAFF)
    with pytest.raises(trip.TripRefused, match="already has the outbound flight"):
        trip.add_leg(case, outbound_facts(departure_day()), STAFF)


# ---------------------------------------------------------------- the checks, each with its message


def test_arrival_before_admission(db_session):
    case = chosen_case()
    day = departure_day()
    trip.add_leg(case, trip.clinic_day(LegKind.ADMISSION, day), STAFF)
    with pytest.raises(trip.TripRefused) as refused:
        trip.add_leg(case, outbound_facts(day), STAFF)
    assert refused.value.errors == {"arrives": (
        f"The outbound flight arrives on {trip._day(day)}, not before the admission on {trip._day(day)}; "
        "the patient must arrive the day before admission at the latest.")}
    trip.add_leg(case, outbound_facts(day - timedelta(days=1)), STAFF)
    # The clinic moving the admission to the arrival day is refused at its date.
    admission = trip.active_leg(case, LegKind.ADMISSION)
    with pytest.raises(trip.TripRefused) as refused:
        trip.change_leg(case, admission.id, trip.clinic_day(LegKind.ADMISSION, day - timedelta(days=1)), STAFF)
    assert "not before the admission" in refused.value.errors["on_date"]


def test_the_stay_lasts_at_least_the_quotes_length_of_stay(db_session):
    case = chosen_case(stay_days=7)
    day = departure_day()
    trip.add_leg(case, outbound_facts(day), STAFF)
    with pytest.raises(trip.TripRefused) as refused:
        trip.add_leg(case, return_facts(day + timedelta(days=5)), STAFF)
    assert refused.value.errors == {"departs": (
        f"The stay from the arrival on {trip._day(day)} to the return flight on {trip._day(day + timedelta(days=5))} "
        "is 5 day(s); the clinic's quote asks for at least 7 day(s).")}
    trip.add_leg(case, return_facts(day + timedelta(days=7)), STAFF)


def test_the_return_flight_leaves_after_the_expected_discharge(db_session):
    case = chosen_case(stay_days=3)
    day = departure_day()
    trip.add_leg(case, trip.clinic_day(LegKind.DISCHARGE, day + timedelta(days=8)), STAFF)
    with pytest.raises(trip.TripRefused) as refused:
        trip.add_leg(case, return_facts(day + timedelta(days=8)), STAFF)
    assert refused.value.errors == {"departs": (
        f"The return flight leaves on {trip._day(day + timedelta(days=8))}, not after the expected discharge on "
        f"{trip._day(day + timedelta(days=8))}; book it for a later day.")}


def test_every_passport_valid_six_months_after_the_return_flight(db_session):
    case = chosen_case()
    day = departure_day()
    trip.add_leg(case, return_facts(day + timedelta(days=9)), STAFF)
    back = day + timedelta(days=9)
    short = back + timedelta(days=100)
    with pytest.raises(trip.TripRefused) as refused:
        trip.add_traveller(case, passport(passport_expiry=short), STAFF, role=TravellerRole.PATIENT, max_companions=2)
    from dateutil.relativedelta import relativedelta
    assert refused.value.errors == {"passport_expiry": (
        f"This passport expires on {trip._day(short)}; it must be valid until at least "
        f"{trip._day(back + relativedelta(months=6))}, 6 months after the return flight on {trip._day(back)}.")}
    # A passport recorded first, then a later return flight: the flight is refused at its departure.
    trip.add_traveller(case, passport(passport_expiry=back + relativedelta(months=7)), STAFF,
                       role=TravellerRole.PATIENT, max_companions=2)
    leg = trip.active_leg(case, LegKind.RETURN_FLIGHT)
    with pytest.raises(trip.TripRefused) as refused:
        trip.change_leg(case, leg.id, return_facts(back + timedelta(days=40)), STAFF)
    assert "NURLANOVA Aigerim: This passport expires on" in refused.value.errors["departs"]


def test_the_checks_name_the_dates_on_what_is_recorded(db_session):
    case, legs = full_trip()
    legs["discharge"].on_date = legs["return"].starts_at.date() + timedelta(days=2)
    assert set(trip.trip_problems(case, 2)) == {"return_departure"}
    add_passport(case, role=TravellerRole.COMPANION, given_names="Dana")
    add_passport(case, role=TravellerRole.COMPANION, given_names="Arman")
    assert "At most 2 companion(s)" in trip.trip_problems(case, 2)["companions"]


# ---------------------------------------------------------------- statuses


def test_travel_booked_needs_the_outbound_flight_and_the_checks_then_treatment_then_home(db_session, coordinator):
    case = chosen_case()
    with pytest.raises(workflow.ActionRefused) as refused:
        workflow.perform(case, "book_travel", coordinator)
    assert "Enter the outbound flight first." in str(refused.value)
    assert "Enter the patient's passport details first." in str(refused.value)
    db.session.rollback()
    add_passport(case)
    legs = standard_trip(case)
    legs["discharge"].on_date = legs["return"].starts_at.date() + timedelta(days=1)
    db.session.commit()
    with pytest.raises(workflow.ActionRefused, match="not after the expected discharge"):
        workflow.perform(case, "book_travel", coordinator)
    db.session.rollback()
    legs["discharge"].on_date = legs["admission"].on_date + timedelta(days=4)
    db.session.commit()
    workflow.perform(case, "book_travel", coordinator)
    assert case.status == CaseStatus.TRAVEL_BOOKED
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id,
                                                          OutboxMessage.job == "notify_patient_event")
                              .order_by(OutboxMessage.id.desc())).first()
    assert mail.payload == {"event": "travel_booked", "ref": legs["outbound"].id}
    with pytest.raises(workflow.ActionRefused, match="not possible"):
        workflow.perform(case, "mark_returned", coordinator)
    workflow.perform(case, "start_treatment", coordinator)
    workflow.perform(case, "mark_returned", coordinator)
    assert case.status == CaseStatus.RETURNED
    assert "close" in [a.name for a in workflow.allowed_actions(case)]
    with pytest.raises(trip.TripRefused, match="once the patient has chosen"):
        trip.add_leg(case, trip.clinic_day(LegKind.PROCEDURE, date(2030, 1, 1)), STAFF)


def test_the_status_page_journey_follows_the_trip(db_session, app_ctx):
    from service.cases.journey import Progress, Step, journey

    case, _legs = full_trip()
    for status, current in ((CaseStatus.TRAVEL_BOOKED, Step.TRIP), (CaseStatus.IN_TREATMENT, Step.TREATMENT)):
        case.status = status
        shown = journey(case)
        assert shown.current == current and shown.headline == status.label
    case.status = CaseStatus.RETURNED
    shown = journey(case)
    assert shown.headline == "Back home" and all(s.progress == Progress.DONE for s in shown.steps)


# ---------------------------------------------------------------- the views


def test_the_patient_sees_the_trip_day_by_day_in_local_time(db_session, app_ctx):
    case, legs = full_trip()
    view = trip.trip_view(case, "patient")
    day = departure_day()
    first = view.days[0]
    assert first.day == day
    assert [e.time for e in first.entries] == [
        "07:10 Asia/Almaty (GMT+5)", "10:05 Europe/Istanbul (GMT+3)", "10:45 Europe/Istanbul (GMT+3)",
        "14:00 Europe/Istanbul (GMT+3)"]
    assert first.entries[0].title == "Flight Turkish Airlines TK 417 leaves Almaty (ALA)"
    assert [d.day for d in view.days] == [day + timedelta(days=n) for n in (0, 1, 2, 6, 9, 10)]
    assert view.days[-1].entries[0].time == "03:55 Asia/Almaty (GMT+5)"
    assert [t.name for t in view.travellers] == ["NURLANOVA Aigerim", "NURLANOVA Nurlan"]
    assert all(t.passport_number == "" for t in view.travellers)


def test_the_patient_reads_their_trip_in_russian(db_session, app_ctx):
    from flask_babel import force_locale

    case, _legs = full_trip()
    with force_locale("ru"):
        view = trip.trip_view(case, "patient")
    titles = [e.title for d in view.days for e in d.entries]
    assert "Рейс Turkish Airlines TK 417 вылетает из Almaty (ALA)" in titles


def test_the_clinic_sees_arrival_and_admission_and_names_only_after_release(db_session):
    case, legs = full_trip()
    view = trip.trip_view(case, "clinic")
    assert view.clinic.arrival_flight == "TK 417"
    assert view.clinic.arrival_time.endswith("10:05 Europe/Istanbul (GMT+3)")
    assert view.clinic.admission == legs["admission"].on_date
    assert view.travellers == [] and view.days == [] and view.legs == []
    case.chosen_quote.referral.contact_released_at = datetime.now(timezone.utc)
    view = trip.trip_view(case, "clinic")
    assert [t.name for t in view.travellers] == ["NURLANOVA Aigerim", "NURLANOVA Nurlan"]
    assert all(t.passport_number == "" and t.nationality == "" for t in view.travellers)


def test_staff_see_everything_with_removed_legs_and_the_problems(db_session):
    case, legs = full_trip()
    trip.cancel_leg(case, legs["transfer"].id, STAFF)
    view = trip.trip_view(case, "staff", max_companions=2)
    assert view.travellers[0].passport_number == "N12345678"
    assert len(view.legs) == 7 and [line.cancelled for line in view.legs].count(True) == 1
    assert view.problems == {}


# ---------------------------------------------------------------- erasure


def test_erasure_deletes_the_travellers_and_the_legs(db_session, storage):
    case, _legs = full_trip()
    trip.add_traveller(case, passport(given_names="Dana", passport_number="N5555555"), STAFF, max_companions=2)
    case.erasure_requested_at = datetime.now(timezone.utc)
    erasure.erase(case, storage)
    assert db.session.scalar(select(func.count(Traveller.id)).where(Traveller.case_id == case.id)) == 0
    assert db.session.scalar(select(func.count(TripLeg.id)).where(TripLeg.case_id == case.id)) == 0
    erased = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "data_erased")).one()
    assert (erased.details["travellers"], erased.details["trip_legs"]) == (3, 7)
    added = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                       CaseEvent.kind == "traveller_added")).one()
    assert "traveller" not in added.details and added.details["role"] == "companion"


# ---------------------------------------------------------------- reminders


def reminders(case) -> list[dict]:
    return [m.payload for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.case_id == case.id, OutboxMessage.job == "notify_patient_event")
        .order_by(OutboxMessage.id)) if m.payload.get("event") == "trip_reminder"]


def test_reminders_seven_days_and_one_day_before_the_flight_once_each(db_session):
    case, legs = full_trip()
    departs = legs["outbound"].starts_at
    leg_id = legs["outbound"].id
    assert patient_mail.remind_departures(departs - timedelta(days=8)) == 0
    assert patient_mail.remind_departures(departs - timedelta(days=7)) == 1
    assert reminders(case) == [{"event": "trip_reminder", "ref": leg_id, "step": 7}]
    # Sent (the ledger has it): the job running again records nothing more.
    db.session.add(Notification(case_id=case.id, kind=patient_mail.ledger_kind(
        patient_mail.PatientEvent.TRIP_REMINDER, leg_id, 7), recipient=case.email, status="sent"))
    db.session.commit()
    assert patient_mail.remind_departures(departs - timedelta(days=6)) == 0
    assert patient_mail.remind_departures(departs - timedelta(hours=23)) == 1
    assert reminders(case)[-1] == {"event": "trip_reminder", "ref": leg_id, "step": 1}
    db.session.add(Notification(case_id=case.id, kind=patient_mail.ledger_kind(
        patient_mail.PatientEvent.TRIP_REMINDER, leg_id, 1), recipient=case.email, status="sent"))
    db.session.commit()
    assert patient_mail.remind_departures(departs - timedelta(hours=2)) == 0
    assert patient_mail.remind_departures(departs + timedelta(hours=1)) == 0


def test_the_reminder_email_names_the_flight_and_is_sent_once(db_session, app_ctx, monkeypatch):
    case, legs = full_trip()
    sent = []
    monkeypatch.setattr(trip, "_now", lambda: legs["outbound"].starts_at - timedelta(days=7))
    from service.cases import case_mail

    def fake(case_, kind, build):
        if kind in sent:
            return False
        sent.append(kind)
        message = build()
        sent.append(message.get_content())
        return True

    monkeypatch.setattr(case_mail, "to_patient", fake)
    assert patient_mail.send(case, patient_mail.PatientEvent.TRIP_REMINDER, legs["outbound"].id, 7)
    assert not patient_mail.send(case, patient_mail.PatientEvent.TRIP_REMINDER, legs["outbound"].id, 7)
    assert sent[0] == f"patient_trip_reminder:{legs['outbound'].id}:7"
    assert "Your flight TK 417 leaves Almaty at 07:10 (Asia/Almaty) in 7 days." in sent[1]
    assert "Knee" not in sent[1] and case.treatment.name not in sent[1]


def test_a_cancelled_flight_is_not_reminded(db_session):
    case, legs = full_trip()
    trip.cancel_leg(case, legs["outbound"].id, STAFF)
    db.session.commit()
    assert patient_mail.remind_departures(legs["outbound"].starts_at - timedelta(days=7)) == 0
