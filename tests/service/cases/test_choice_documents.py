"""The patient's paperwork on record: the quote comparison, the booking summary and the
visa letter are stored under their slots, one `Document` each, replaced in place."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from service.accounts.roles import CLINIC
from service.cases import paperwork_store, quotes
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Attachment, Clinic, Document, Referral
from tests.fixtures.staff import make_user
from tests.fixtures.cases import make_case
from tests.service.paperwork.pdfs import flat, page_texts

TODAY = date.today()
CONTACT = "care@medtour.test"


def terms(**changes) -> quotes.Terms:
    values = dict(price="12500", currency="EUR", earliest_date=TODAY + timedelta(days=30), stay_days=7,
                  valid_until=TODAY + timedelta(days=60), includes=["treatment", "stay"], notes="")
    values.update(changes)
    return quotes.Terms(**values)


@pytest.fixture
def quoted(db_session):
    """A Russian-speaking patient's routed case, two clinics referred; each with a user."""
    case = make_case(status=CaseStatus.ROUTED, language="ru", full_name="Амина Петрова",
                     date_of_birth=date(1979, 4, 2), medications="метформин 500 мг")
    db.session.add(Attachment(case=case, filename="МРТ колена.pdf", storage_key=f"cases/{case.id}/attachments/x1",
                              content_type="application/pdf", size=100, sha256="0" * 64))
    clinics = list(db.session.scalars(select(Clinic).order_by(Clinic.slug).limit(2)))
    referrals = [Referral(case=case, clinic=c, score=1, reasons=[]) for c in clinics]
    db.session.add_all(referrals)
    db.session.flush()
    users = [make_user(CLINIC, clinic_id=c.id) for c in clinics]
    return case, referrals, users


def text(storage, document: Document) -> str:
    with storage.open(document.storage_key) as stream:
        data = stream.read()
    texts = page_texts(data)
    assert len(texts) == document.pages
    return flat(" ".join(texts))


def documents_of(case) -> dict[str, Document]:
    return {d.slot: d for d in db.session.scalars(select(Document).where(Document.case_id == case.id))}


def test_the_comparison_lists_the_counting_quotes_and_is_replaced_in_place(quoted, storage):
    case, (first, second), (user1, user2) = quoted
    quotes.accept(first, terms(price="12500"), user1)
    quotes.accept(second, terms(price="9900", currency="USD", includes=["treatment", "interpreter"]), user2)

    saved = paperwork_store.store_quote_comparison(case, storage)
    document = saved.document
    assert saved.created
    assert (document.slot, document.kind, document.language) == ("quote_comparison", "quote_comparison", "ru")
    assert document.referral_id is None
    assert document.storage_key == f"cases/{case.id}/documents/quote_comparison.pdf"
    shown = text(storage, document)
    assert "Полученные предложения" in shown and case.reference in shown
    assert first.clinic.name in shown and second.clinic.name in shown
    assert "12 500,00 EUR" in shown and "9 900,00 USD" in shown and "Переводчик" in shown

    revision = quotes.revise(first, terms(price="11800"), user1)
    again = paperwork_store.store_quote_comparison(case, storage)
    assert "11 800,00 EUR" not in text(storage, again.document)  # not counting until accepted
    quotes.accept_revision(case, revision.id)
    again = paperwork_store.store_quote_comparison(case, storage)
    assert not again.created and again.document.id == document.id
    assert "11 800,00 EUR" in text(storage, again.document) and "12 500,00 EUR" not in text(storage, again.document)
    assert db.session.scalar(select(func.count(Document.id)).where(Document.case_id == case.id)) == 1


def test_a_comparison_without_quotes_says_so(quoted, storage):
    case, (first, _), (user1, _) = quoted
    quotes.decline(first, "No surgeon available", user1)
    document = paperwork_store.store_quote_comparison(case, storage).document
    assert "Предложений пока нет." in text(storage, document)
    assert "No surgeon available" not in text(storage, document)


def test_an_expired_quote_is_marked_in_the_comparison(quoted, storage):
    case, (first, second), (user1, user2) = quoted
    quotes.accept(first, terms(valid_until=TODAY + timedelta(days=3)), user1)
    quotes.accept(second, terms(), user2)
    document = paperwork_store.store_quote_comparison(case, storage, today=TODAY + timedelta(days=10)).document
    shown = text(storage, document)
    assert shown.count("Истекло") == 1
    assert shown.index(second.clinic.name) < shown.index(first.clinic.name) < shown.index("Истекло")


def test_the_booking_summary_follows_the_choice(quoted, storage):
    """(The visa letters wait for the travellers' passports: tests/service/cases/test_trip_documents.py.)"""
    case, (first, second), (user1, user2) = quoted
    quotes.accept(first, terms(price="12500"), user1)
    chosen = quotes.accept(second, terms(price="14200.50", stay_days=10), user2)
    with pytest.raises(ValueError, match="no chosen quote"):
        paperwork_store.store_booking_summary(case, storage, contact_email=CONTACT)
    quotes.choose(case, chosen.id)

    booking = paperwork_store.store_booking_summary(case, storage, contact_email=CONTACT).document
    assert (booking.slot, booking.kind, booking.language) == ("booking_summary", "booking_summary", "ru")
    assert booking.referral_id is None

    summary = text(storage, booking)
    assert "Сводка бронирования" in summary and "Амина Петрова" in summary
    assert second.clinic.name in summary and first.clinic.name not in summary
    assert second.clinic.email in summary
    assert "14 200,50 EUR" in summary and "10 дней" in summary
    assert "МРТ колена.pdf" in summary and "метформин 500 мг" in summary
    assert CONTACT in summary

    assert set(documents_of(case)) == {"booking_summary"}
    paperwork_store.store_booking_summary(case, storage, contact_email=CONTACT)
    assert {slot: d.id for slot, d in documents_of(case).items()} == {"booking_summary": booking.id}


