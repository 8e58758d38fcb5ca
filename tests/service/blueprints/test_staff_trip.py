"""The trip on the web: staff enter travellers and legs (refusals at the field, what
was typed kept), the case file's Trip section, the chosen clinic's dates in the portal,
and the patient's "Your trip" on the status page, in English and Russian."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from service.cases import trip
from service.cases.tokens import new_token
from service.extensions import db
from service.models import CaseEvent, Traveller
from service.models.trip import LegKind
from tests.fixtures.staff import sign_in
from tests.fixtures.trips import chosen_case, clinic_user, departure_day, full_trip


def traveller_form(prefix: str = "new-traveller", **changes: str) -> dict[str, str]:
    values = {"role": "patient", "given_names": "Aigerim", "surname": "Nurlanova", "nationality": "KZ",
              "passport_number": "N12345678", "passport_expiry": "2040-01-01", "date_of_birth": "1984-05-17"}
    values.update(changes)
    return {f"{prefix}-{key}": value for key, value in values.items()}


def flight_form(day, prefix: str = "new-outbound_flight", arrives: str = "10:05") -> dict[str, str]:
    return {f"{prefix}-airline": "Turkish Airlines", f"{prefix}-flight_number": "TK 417",
            f"{prefix}-from_airport": "ALA", f"{prefix}-departs": f"{day.isoformat()}T07:10",
            f"{prefix}-to_airport": "IST", f"{prefix}-arrives": f"{day.isoformat()}T{arrives}"}


def test_staff_add_a_traveller_and_the_outbound_flight(staff_client):
    case = chosen_case()
    page = staff_client.get(f"/staff/cases/{case.reference}/trip")
    assert page.status_code == 200 and "Add a traveller" in page.text
    response = staff_client.post(f"/staff/cases/{case.reference}/trip/travellers", data=traveller_form())
    assert response.status_code == 303, response.text
    response = staff_client.post(f"/staff/cases/{case.reference}/trip/legs/outbound_flight",
                                 data=flight_form(departure_day()))
    assert response.status_code == 303, response.text
    page = staff_client.get(f"/staff/cases/{case.reference}/trip")
    assert "NURLANOVA Aigerim" in page.text and "07:10 Asia/Almaty (GMT+5)" in page.text
    case_file = staff_client.get(f"/staff/cases/{case.reference}")
    assert case_file.text.count('id="trip-title"') == 1 and "TK 417 ALA→IST" in case_file.text


def test_a_cyrillic_name_is_refused_at_its_field_and_what_was_typed_stays(staff_client):
    case = chosen_case()
    response = staff_client.post(f"/staff/cases/{case.reference}/trip/travellers",
                                 data=traveller_form(surname="Нурланова", passport_number="N7654321"))
    assert response.status_code == 422
    assert "type it in Latin letters" in response.text
    assert 'value="Нурланова"' in response.text and 'value="N7654321"' in response.text
    assert db.session.scalar(select(Traveller.id).where(Traveller.case_id == case.id)) is None


def test_a_flight_arriving_on_the_admission_day_is_refused_at_the_arrival(staff_client):
    case = chosen_case()
    day = departure_day()
    trip.add_leg(case, trip.clinic_day(LegKind.ADMISSION, day), "staff:x")
    db.session.commit()
    response = staff_client.post(f"/staff/cases/{case.reference}/trip/legs/outbound_flight", data=flight_form(day))
    assert response.status_code == 422
    assert "not before the admission" in response.text
    assert 'id="new-outbound_flight-arrives-error"' in response.text


def test_staff_change_and_remove_a_leg(staff_client):
    case, legs = full_trip()
    leg = legs["outbound"]
    response = staff_client.post(f"/staff/cases/{case.reference}/trip/legs/{leg.id}",
                                 data=flight_form(departure_day(), prefix=f"leg-{leg.id}", arrives="10:35"))
    assert response.status_code == 303, response.text
    db.session.expire_all()
    assert leg.sequence == 1
    response = staff_client.post(f"/staff/cases/{case.reference}/trip/legs/{legs['transfer'].id}/remove")
    assert response.status_code == 303
    kinds = list(db.session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)))
    assert "leg_changed" in kinds and "leg_cancelled" in kinds


def test_the_chosen_clinic_enters_its_dates_and_sees_arrival_and_admission(client):
    case, legs = full_trip()
    sign_in(client, clinic_user(case))
    referral_id = case.chosen_quote.referral_id
    page = client.get(f"/clinic/referrals/{referral_id}")
    assert page.status_code == 200
    assert "TK 417, lands" in page.text and "10:05 Europe/Istanbul (GMT+3)" in page.text
    assert "NURLANOVA" not in page.text  # names only after release
    admission = legs["admission"].on_date
    response = client.post(f"/clinic/referrals/{referral_id}/trip-dates", data={
        "admission": (admission + timedelta(days=1)).isoformat(),
        "procedure": (admission + timedelta(days=2)).isoformat(),
        "discharge": (admission + timedelta(days=5)).isoformat()})
    assert response.status_code == 303, response.text
    db.session.expire_all()
    assert trip.active_leg(case, LegKind.ADMISSION).on_date == admission + timedelta(days=1)
    # Admission on the arrival day: refused at the field, nothing changed.
    response = client.post(f"/clinic/referrals/{referral_id}/trip-dates", data={
        "admission": legs["outbound"].starts_at.date().isoformat(),
        "procedure": (admission + timedelta(days=2)).isoformat(),
        "discharge": (admission + timedelta(days=5)).isoformat()})
    assert response.status_code == 422 and "not before the admission" in response.text


def test_a_clinic_not_chosen_sees_no_trip_and_cannot_enter_dates(client):
    case, _legs = full_trip()
    other = clinic_user(case, chosen=False)
    sign_in(client, other)
    referral_id = next(r.id for r in db.session.scalars(select(trip.Referral).where(
        trip.Referral.case_id == case.id, trip.Referral.clinic_id == other.clinic_id)))
    page = client.get(f"/clinic/referrals/{referral_id}")
    assert page.status_code == 200 and 'id="trip-title"' not in page.text and "TK 417" not in page.text
    response = client.post(f"/clinic/referrals/{referral_id}/trip-dates", data={"admission": "2099-01-01"})
    assert response.status_code == 422


def test_the_patient_sees_their_trip_day_by_day_in_russian(client):
    token, digest = new_token()
    case, _legs = full_trip(chosen_case(token_hash=digest, language="ru"))
    page = client.get(f"/s/{token}?lang=ru")
    assert page.status_code == 200
    assert page.text.count('id="trip-title"') == 1
    assert "Ваша поездка" in page.text
    assert "07:10 Asia/Almaty (GMT+5)" in page.text and "Рейс Turkish Airlines TK 417 вылетает из Almaty" in page.text
    assert "N12345678" not in page.text
