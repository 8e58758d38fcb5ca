"""The trip's documents on record, read back with pypdf: a visa-support letter per
traveller fit for a consulate, and the itinerary in the patient's language."""
from __future__ import annotations

import pytest
from flask import current_app
from sqlalchemy import select

from service.cases import paperwork_store
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Document, OutboxMessage
from service.models.trip import TravellerRole
from service.paperwork.invoice import Agency
from tests.fixtures.cases import make_case
from tests.fixtures.trips import add_passport, chosen_case, full_trip, standard_trip
from tests.service.paperwork.pdfs import flat, page_texts
from workers import jobs

ADDRESS = "Barbaros Bulvarı 112, 34353 Beşiktaş, Istanbul"


def read(storage, document: Document) -> str:
    with storage.open(document.storage_key) as stream:
        return flat(" ".join(page_texts(stream.read())))


def letters(case) -> dict[str, Document]:
    return {d.slot: d for d in db.session.scalars(
        select(Document).where(Document.case_id == case.id, Document.slot.like("visa_letter:%")))}


def agency() -> Agency:
    return Agency.from_config(current_app.config)


def store_letters(case, storage):
    return paperwork_store.store_visa_letters(case, storage, agency=agency(), default_coordinator="Elena Hoffmann")


@pytest.fixture
def trip(db_session):
    case, legs = full_trip(chosen_case(language="ru"), companions=1)
    case.chosen_quote.referral.clinic.address = ADDRESS
    db.session.flush()
    return case, legs


def test_two_travellers_two_letters_each_naming_its_traveller_and_the_other(trip, storage):
    case, legs = trip
    saved = store_letters(case, storage)
    assert len(saved) == 2 and len(letters(case)) == 2
    patient, companion = (read(storage, s.document) for s in saved)
    config = current_app.config
    for text in (patient, companion):
        for fact in (config["AGENCY_NAME"], config["AGENCY_ADDRESS"], config["AGENCY_REGISTRATION"],
                     config["AGENCY_PHONE"], config["CONTACT_EMAIL"]):
            assert fact in text
        assert ADDRESS in text and case.chosen_quote.referral.clinic.name in text
        assert "Confidential" not in text and "Конфиденциально" not in text
        d = legs["admission"].on_date
        assert f"Admission {d.day} {d:%B} {d.year}" in text
        assert f"Expected discharge {legs['discharge'].on_date.day} {legs['discharge'].on_date:%B}" in text
        assert "length of stay 9 days" in text  # arrival day to the return flight's day
        assert "paid by the patient from their own funds" in text
        assert "Elena Hoffmann Patient coordinator" in text
        assert "Перевод для сведения путешественника" in text and "Вместе едут" in text
        assert case.description not in text
    assert f"Medical treatment: {case.treatment.name}" in patient and case.treatment.name not in companion
    assert "Traveller NURLANOVA Aigerim Nationality Kazakhstan Passport No. N12345678" in patient
    assert "NURLANOVA Nurlan N87654320 Kazakhstan accompanying the patient" in patient
    assert "Traveller NURLANOVA Nurlan Nationality Kazakhstan Passport No. N87654320" in companion
    assert "NURLANOVA Aigerim N12345678 Kazakhstan the patient" in companion
    assert "accompanying the patient NURLANOVA Aigerim (passport No. N12345678)" in companion


def test_the_signatory_is_the_coordinator_with_a_name(trip, storage):
    case, _legs = trip
    from tests.fixtures.staff import make_user
    from service.accounts.roles import COORDINATOR

    case.assignee = make_user(COORDINATOR, full_name="Marta Kowalska")
    db.session.flush()
    text = read(storage, store_letters(case, storage)[0].document)
    assert "Marta Kowalska Patient coordinator" in text and "Elena Hoffmann" not in text


def test_an_english_case_has_no_translation(db_session, storage):
    case, _legs = full_trip(chosen_case(language="en"), companions=0)
    text = read(storage, store_letters(case, storage)[0].document)
    assert "Translation" not in text and "Travelling together" not in text
    assert "Confidential" not in text


def test_a_removed_traveller_loses_the_letter(trip, storage):
    case, _legs = trip
    store_letters(case, storage)
    companion = next(t for t in db.session.scalars(select(paperwork_store.Traveller).where(
        paperwork_store.Traveller.case_id == case.id)) if t.role == TravellerRole.COMPANION)
    key = letters(case)[paperwork_store.visa_letter_slot(companion.id)].storage_key
    db.session.delete(companion)
    db.session.flush()
    store_letters(case, storage)
    assert paperwork_store.visa_letter_slot(companion.id) not in letters(case)
    assert len(letters(case)) == 1 and not storage.exists(key)


def test_without_travellers_the_job_does_nothing_and_staff_see_why(db_session, storage, app):
    case = chosen_case()
    standard_trip(case)
    db.session.commit()
    reason = paperwork_store.visa_letter_blocker(case)
    assert reason is not None and "passport" in reason
    jobs.render_visa_letter(case.id)
    assert letters(case) == {}
    unchosen = make_case(status=CaseStatus.ROUTED)
    assert "chosen" in paperwork_store.visa_letter_blocker(unchosen)
    add_passport(case)
    assert paperwork_store.visa_letter_blocker(case) is None
    jobs.render_visa_letter(case.id)
    assert len(letters(case)) == 1


def test_the_itinerary_in_russian_day_by_day_with_local_times(trip, storage):
    case, legs = trip
    jobs.render_itinerary(case.id)
    document = db.session.scalars(select(Document).where(
        Document.case_id == case.id, Document.slot == paperwork_store.ITINERARY)).one()
    assert document.language == "ru" and document.kind == "itinerary"
    text = read(storage, document)
    assert "Ваш маршрут" in text and "NURLANOVA Aigerim" in text and "NURLANOVA Nurlan" in text
    assert "N12345678" not in text and "N87654320" not in text  # no passport numbers
    assert "07:10 Asia/Almaty, UTC+05:00 Рейс TK 417 вылетает из города Almaty (ALA)" in text
    assert "10:05 Europe/Istanbul, UTC+03:00 Рейс TK 417 прибывает в город Istanbul (IST)" in text
    assert "03:55 Asia/Almaty, UTC+05:00 Рейс TK 416 прибывает" in text
    assert "Заселение: Hotel Sultanahmet Palace" in text and "Трансфер: встреча — Istanbul Airport" in text
    assert f"Госпитализация в {case.chosen_quote.referral.clinic.name}" in text and ADDRESS in text
    assert current_app.config["AGENCY_PHONE"] in text and case.treatment.name not in text
    # Day by day: the outbound day (flight, pick-up, check-in), then the admission's day.
    assert text.index("07:10") < text.index("10:45") < text.index("14:00") < text.index("Госпитализация в")
    assert text.index("Госпитализация в") < text.index("День лечения в") < text.index("Ожидаемая выписка из")


def test_a_trip_change_renders_both_again(trip):
    case, _legs = trip
    paperwork_store.trip_changed(case)
    db.session.flush()
    recorded = [m.job for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id))]
    assert recorded[-2:] == ["render_itinerary", "render_visa_letter"]


def test_the_status_page_lists_the_letters_by_traveller(client, storage):
    from service.cases.tokens import new_token

    token, digest = new_token()
    case, _legs = full_trip(chosen_case(token_hash=digest, language="ru"), companions=1)
    store_letters(case, storage)
    jobs.render_itinerary(case.id)
    db.session.commit()
    page = client.get(f"/s/{token}").get_data(as_text=True)
    assert "Письмо для визы — NURLANOVA Aigerim" in page and "Письмо для визы — NURLANOVA Nurlan" in page
    assert "Ваш маршрут" in page
    slot = next(iter(letters(case)))
    assert client.get(f"/s/{token}/documents/{slot}").status_code == 303
    assert client.get(f"/s/{token}/documents/itinerary").status_code == 303


def test_staff_see_why_a_chosen_case_has_no_visa_letter(client):
    from service.accounts.roles import COORDINATOR
    from tests.fixtures.staff import make_user, sign_in

    case = chosen_case()
    db.session.commit()
    sign_in(client, make_user(COORDINATOR))
    page = client.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    assert "No visa letter yet: enter the travellers&#39; passport details" in page
    add_passport(case)
    db.session.commit()
    assert "No visa letter yet" not in client.get(f"/staff/cases/{case.reference}").get_data(as_text=True)


def test_the_letters_translation_names_the_treatment_in_russian(trip, storage):
    case, _legs = trip
    patient = read(storage, store_letters(case, storage)[0].document)
    english, translation = patient.split("Перевод для сведения путешественника", 1)
    assert f"Medical treatment: {case.treatment.name}" in english
    assert f"Лечение: {case.treatment.text('name', 'ru')}" in translation
    assert case.treatment.text("name", "ru") != case.treatment.name and case.treatment.name not in translation


def test_without_a_street_address_the_city_and_country_are_in_the_documents_language(db_session, storage):
    case, _legs = full_trip(chosen_case(language="ru"), companions=0)
    case.chosen_quote.referral.clinic.address = None
    db.session.flush()
    jobs.render_itinerary(case.id)
    itinerary = db.session.scalars(select(Document).where(
        Document.case_id == case.id, Document.slot == paperwork_store.ITINERARY)).one()
    assert "Стамбул, Турция" in read(storage, itinerary)
    letter = read(storage, store_letters(case, storage)[0].document)
    assert "Clinic's address Istanbul, Türkiye" in letter and "Адрес клиники Istanbul, Türkiye" in letter
