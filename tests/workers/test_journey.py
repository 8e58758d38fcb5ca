"""The loop the agency is paid for, in one test, through the real pages, the real
Redis, an in-process worker and a real SMTP server: a request is routed, two clinics
quote, the patient compares and chooses, and the trip's paperwork exists; then the
patient erases their data."""
from __future__ import annotations

from decimal import Decimal

import pytest
from markupsafe import escape
from sqlalchemy import select

from service.cases import events, paperwork_store
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Attachment, Case, CaseEvent, Document, Notification, Quote, Referral
from service.paperwork.wording import format_money
from tests.fixtures import files
from tests.fixtures.cases import post_request, run_worker
from tests.fixtures.forms import upload
from tests.fixtures.staff import sign_in
from tests.service.blueprints.clinic_referrals import clinic_user, quote_form
from tests.service.paperwork.pdfs import flat, page_texts


@pytest.fixture
def mail(app, smtp_server, smtp_url):
    app.config["MAIL_URL"] = smtp_url
    yield smtp_server
    app.config["MAIL_URL"] = None


def read_pdf(storage, key: str) -> str:
    with storage.open(key) as stream:
        return flat(" ".join(page_texts(stream.read())))


def slots(case: Case) -> dict[str, Document]:
    return {d.slot: d for d in db.session.scalars(select(Document).where(Document.case_id == case.id))}


def clinic_answers(app, referral: Referral, price: str) -> None:
    """A user of the referral's clinic signs in and accepts with a quote."""
    portal = app.test_client()
    sign_in(portal, clinic_user(referral.clinic))
    assert portal.get(f"/clinic/referrals/{referral.id}").status_code == 200
    response = portal.post(f"/clinic/referrals/{referral.id}/accept",
                           data=quote_form(price=price, currency="EUR", includes=["treatment", "stay", "transfers"]))
    assert response.status_code == 303, response.text


@pytest.fixture
def routed(app, client, redis_queue, mail):
    case, status_path = post_request(client, [upload(files.pdf("Knee MRI report"), "МРТ колена.pdf"),
                                              upload(files.png(), "stump.png")])
    run_worker(app)
    db.session.refresh(case)
    assert case.status == CaseStatus.ROUTED
    referrals = list(db.session.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.id)))
    assert len(referrals) >= 2, "the demo catalogue routes this treatment to at least two clinics"
    return case, status_path, referrals


def test_request_routed_two_quotes_compared_chosen_and_booked(app, client, storage, mail, routed):
    case, status_path, referrals = routed
    first, second = referrals[:2]
    clinic_answers(app, first, "18400")
    clinic_answers(app, second, "16900")
    run_worker(app)

    # The patient compares: both quotes on the page, the cheaper first, and in the PDF.
    page = client.get(status_path).text
    first_name, second_name = escape(first.clinic.name), escape(second.clinic.name)
    assert first_name in page and second_name in page
    # The patient wrote in Russian: the page speaks Russian money too ("16 900,00 EUR").
    assert '<html lang="ru">' in page
    assert format_money(Decimal("18400"), "EUR", "ru") in page and format_money(Decimal("16900"), "EUR", "ru") in page
    assert page.index(second_name) < page.index(first_name)
    comparison = read_pdf(storage, slots(case)[paperwork_store.QUOTE_COMPARISON].storage_key)
    assert first.clinic.name in comparison and second.clinic.name in comparison
    # The patient wrote in Russian: the comparison speaks Russian money.
    assert flat(format_money(Decimal("16900"), "EUR", "ru")) in comparison

    # ... and chooses the first clinic's quote, though dearer.
    quote = db.session.scalar(select(Quote).where(Quote.referral_id == first.id))
    assert client.get(f"{status_path}/quotes/{quote.id}/choose").status_code == 200
    response = client.post(f"{status_path}/quotes/{quote.id}/choose")
    assert response.status_code == 303 and response.location.endswith(status_path)
    run_worker(app)
    db.session.refresh(case)
    assert case.status == CaseStatus.CHOSEN and case.chosen_quote_id == quote.id

    # The trip's paperwork exists and reads back: the chosen clinic, its price, the patient.
    docs = slots(case)
    booking = read_pdf(storage, docs[paperwork_store.BOOKING_SUMMARY].storage_key)
    assert first.clinic.name in booking and case.reference in booking
    assert flat(format_money(Decimal("18400"), "EUR", "ru")) in booking
    assert second.clinic.name not in booking
    assert docs[paperwork_store.BOOKING_SUMMARY].language == "ru"
    # The visa letters wait for the travellers' passports (staff see why).
    assert not any(slot.startswith("visa_letter") for slot in docs)
    assert "passport" in paperwork_store.visa_letter_blocker(case)

    # The status page offers them; staff were told; the clinic sees its quote was chosen.
    page = client.get(status_path).text
    for slot in (paperwork_store.BOOKING_SUMMARY, paperwork_store.QUOTE_COMPARISON):
        assert f"{status_path}/documents/{slot}" in page
    told = mail.to(app.config["CONTACT_EMAIL"])
    assert len(told) == 1 and case.reference in told[0]
    assert db.session.scalar(select(CaseEvent.id).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "status_changed", CaseEvent.actor == events.Actor.PATIENT,
    )) is not None


def test_erasure_deletes_the_files_and_blanks_the_person(app, client, storage, staff_client, routed):
    case, status_path, referrals = routed
    keys = [a.storage_key for a in case.attachments] + [d.storage_key for d in slots(case).values()]
    assert len(keys) >= 4
    # A coordinator opened a file: the event names it (health data in a file name).
    attachment = case.attachments[0]
    assert staff_client.get(f"/staff/cases/{case.reference}/attachments/{attachment.id}").status_code == 303
    patient_mail = db.session.scalar(select(Notification).where(Notification.recipient == "amina@example.org"))
    assert patient_mail is not None

    response = client.post(f"{status_path}/erase", data={"reference": case.reference})
    assert response.status_code == 303
    assert client.get(status_path).status_code == 404  # at once, before the job ran
    run_worker(app)
    db.session.refresh(case)

    for key in keys:
        with pytest.raises(FileNotFoundError):
            storage.open(key)
    assert db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all() == []
    assert db.session.scalars(select(Document).where(Document.case_id == case.id)).all() == []
    assert case.erased_at is not None
    assert (case.full_name, case.phone, case.date_of_birth, case.conditions) == ("erased", None, None, None)
    assert "amina" not in case.email
    # Nothing personal is left anywhere in the case's rows.
    leftovers = [str(e.details) for e in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))]
    leftovers += [n.recipient for n in db.session.scalars(select(Notification).where(Notification.case_id == case.id))]
    for personal in ("Amina", "amina@example.org", "МРТ", "stump.png"):
        assert not any(personal in text for text in leftovers), personal
    # The anonymous record stays for statistics.
    assert case.treatment is not None and case.country == "KZ"
    assert db.session.scalars(select(Referral.id).where(Referral.case_id == case.id)).all() == [r.id for r in referrals]
    assert db.session.scalar(select(CaseEvent.id).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "data_erased")) is not None
