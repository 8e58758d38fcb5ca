"""The patient's documents after the clinics answer: the quote comparison, the booking
summary, in English and in Russian, read back with pypdf (the visa letters: test_trip_documents)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from service.cases.quotes import INCLUDES
from service.paperwork import (
    SandboxedFetcher,
    booking_summary_content,
    build_patient_pdf,
    quote_comparison_content,
)
from service.paperwork.wording import format_days, format_money, include_label
from tests.service.paperwork import fakes, pdfs

TODAY = date(2026, 11, 25)
CONTACT = "care@medtour.test"
HOSTILE = '<img src="file:///etc/passwd"> <script>alert(1)</script> <b>bold</b>'
FONTS = {"medtour-static:fonts/DejaVuSans.ttf", "medtour-static:fonts/DejaVuSans-Bold.ttf"}

CLINICS = [
    fakes.Clinic(name="Klinikum Lübeck Orthopädie", city="Lübeck", country="DE", accreditations=["JCI", "DIN EN ISO 9001"]),
    fakes.Clinic(name="Anadolu Sağlık Merkezi", city="Istanbul", country="TR", accreditations=["JCI"]),
    fakes.Clinic(name="Clínica Universidad de Navarra", city="Pamplona", country="ES", accreditations=[]),
    fakes.Clinic(name="Asklepios Klinik Barmbek", city="Hamburg", country="DE", accreditations=["KTQ"]),
    fakes.Clinic(name="Memorial Şişli Hastanesi", city="Istanbul", country="TR", accreditations=["JCI"]),
    fakes.Clinic(name="Rambam Health Care Campus", city="Haifa", country="IL", accreditations=["JCI"]),
]


def six_quotes() -> list[tuple[fakes.Referral, fakes.Quote]]:
    """Six quotes, the last one expired (the order `quotes.comparison` gives: expired last)."""
    rows = []
    for n, clinic in enumerate(CLINICS):
        quote = fakes.quote(
            clinic,
            price=Decimal(11000 + 1250 * n), currency="EUR",
            includes=list(INCLUDES)[: n % 4 + 1],
            earliest_date=TODAY + timedelta(days=20 + n), stay_days=5 + n,
            valid_until=TODAY - timedelta(days=1) if n == 5 else TODAY + timedelta(days=40 + n),
            notes="Bring your latest X-rays." if n == 1 else "",
        )
        rows.append((quote.referral, quote))
    return rows


def text_of(data: bytes) -> tuple[list[str], str]:
    texts = pdfs.page_texts(data)
    return texts, pdfs.flat(" ".join(texts))


def comparison(language: str, rows=None):
    case = fakes.Case(language=language)
    content = quote_comparison_content(case, six_quotes() if rows is None else rows, today=TODAY)
    rendered = build_patient_pdf(content)
    return content, rendered, *text_of(rendered.data)


# ---------------------------------------------------------------- quote comparison


def test_english_comparison_lists_every_quote_side_by_side():
    content, rendered, texts, text = comparison("en")
    assert content.language == "en"
    assert rendered.pages == len(texts)
    assert "Quotes received" in text
    assert "Reference MT-2026-000042" in text
    assert "Osseointegrated prosthesis (transfemoral)" in text
    for header in ("Clinic", "City and country", "Accreditation", "Price", "Included", "Earliest date",
                   "Length of stay", "Valid until"):
        assert header in text
    for n, clinic in enumerate(CLINICS):
        assert clinic.name in text
        assert f"{11000 + 1250 * n:,}.00 EUR" in text
        assert f"{5 + n} days" in text
        for accreditation in clinic.accreditations:
            assert accreditation in text
    assert "Lübeck, Germany" in text and "Istanbul, Türkiye" in text and "Haifa, Israel" in text
    assert "4 January 2027" in text  # the first quote's validity
    assert "15 December 2026" in text  # its earliest date
    for label in INCLUDES.values():
        assert label in text
    assert "Clinic's notes: Bring your latest X-rays." in text
    assert text.index(CLINICS[0].name) < text.index(CLINICS[5].name)


def test_five_and_more_quotes_fit_the_page_width():
    _, rendered, texts, text = comparison("en")
    page = pdfs.reader(rendered.data).pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)  # landscape A4
    first_page = pdfs.flat(texts[0])
    for clinic in CLINICS[:5]:
        assert clinic.name in first_page
    assert f"Page 1 of {len(texts)}" in first_page


def test_an_expired_quote_is_marked():
    _, _, texts, text = comparison("en")
    assert text.count("Expired") == 1
    expired_row = text[text.index(CLINICS[5].name):]
    assert "24 November 2026 Expired" in expired_row
    _, _, _, fresh = comparison("en", six_quotes()[:5])
    assert "Expired" not in fresh


def test_russian_comparison():
    content, _, texts, text = comparison("ru")
    assert content.language == "ru"
    assert "Полученные предложения" in text
    assert "Номер заявки MT-2026-000042" in text
    for header in ("Клиника", "Аккредитация", "Цена", "Что входит", "Действует до"):
        assert header in text
    assert "Lübeck, Германия" in text and "Istanbul, Турция" in text
    assert pdfs.squeeze("11 000,00 EUR") in pdfs.squeeze(text)
    assert "5 дней" in text and "6 дней" in text
    assert "15 декабря 2026" in text
    assert "Истекло" in text and "Expired" not in text
    for label in ("Лечение", "Пребывание в клинике", "Трансферы из аэропорта и в клинику", "Переводчик"):
        assert pdfs.squeeze(label) in pdfs.squeeze(text)
    assert "Примечания клиники: Bring your latest X-rays." in text
    assert f"Страница 1 из {len(texts)}" in text


@pytest.mark.parametrize(("language", "message"), [
    ("en", "No quotes have been received yet."),
    ("ru", "Предложений пока нет."),
])
def test_no_quotes_says_none_were_received(language, message):
    _, rendered, _, text = comparison(language, rows=[])
    assert rendered.pages == 1
    assert message in text
    assert "MT-2026-000042" in text


# ---------------------------------------------------------------- booking summary


def booking(language: str, **case_values):
    case = fakes.Case(language=language, **case_values)
    store = fakes.Store()
    store.add(case, "МРТ колена.pdf", "application/pdf", b"%PDF-1.4")
    store.add(case, "knee-xray.jpg", "image/jpeg", b"jpeg")
    clinic = fakes.Clinic(accreditations=["JCI", "DIN EN ISO 9001"])
    quote = fakes.quote(
        clinic, price=Decimal("18450.50"), currency="EUR", includes=["treatment", "stay", "interpreter"],
        earliest_date=date(2027, 3, 1), stay_days=12, valid_until=date(2027, 1, 31),
        notes="Fasting from midnight before surgery.",
    )
    content = booking_summary_content(case, quote, case.attachments, CONTACT, today=TODAY)
    rendered = build_patient_pdf(content)
    return case, content, rendered, *text_of(rendered.data)


def test_english_booking_summary_has_the_figures():
    case, content, rendered, texts, text = booking("en")
    assert rendered.pages == len(texts) == 1
    assert "Booking summary" in text
    assert "Reference MT-2026-000042" in text and "Patient Amina Petrova" in text
    assert "Clinic Klinikum Lübeck Orthopädie" in text
    assert "City and country Lübeck, Germany" in text
    assert "Accreditation JCI, DIN EN ISO 9001" in text
    assert "international@klinikum-luebeck.test" in text
    assert "Earliest date 1 March 2027" in text
    assert "Length of stay 12 days" in text
    assert "Planned stay 1 March 2027 to 13 March 2027" in text
    assert "Price 18,450.50 EUR" in text
    assert "Included Treatment; Hospital stay; Interpreter" in text
    assert "Airport and hospital transfers" not in text
    assert "Valid until 31 January 2027" in text
    assert "Fasting from midnight before surgery." in text
    assert "What to bring" in text and "Your passport" in text
    for attachment in case.attachments:
        assert attachment.filename in text
    assert "You told us you take: none known" in text
    assert "Write to care@medtour.test and quote your reference MT-2026-000042." in text


def test_russian_booking_summary():
    _, content, _, _, text = booking("ru", allergies="пенициллин")
    assert content.language == "ru"
    assert "Сводка бронирования" in text
    assert "Пациент Amina Petrova" in text
    assert "Город и страна Lübeck, Германия" in text
    assert "Ближайшая дата 1 марта 2027" in text
    assert "Длительность пребывания 12 дней" in text
    assert "с 1 марта 2027 по 13 марта 2027" in text
    assert pdfs.squeeze("18 450,50 EUR") in pdfs.squeeze(text)
    assert "Лечение; Пребывание в клинике; Переводчик" in text
    assert "Действует до 31 января 2027" in text
    assert "Что взять с собой" in text and "МРТ колена.pdf" in text
    assert "пенициллин" in text
    assert "Пишите на care@medtour.test" in text
    assert "Booking summary" not in text


# ---------------------------------------------------------------- escaping and the sandbox


def _hostile_documents():
    clinic = fakes.Clinic(name=f"Evil {HOSTILE}", city="<i>City</i>", accreditations=["<svg onload=x>"])
    quote = fakes.quote(clinic, notes=f"Notes {HOSTILE}")
    case = fakes.Case(language="en", full_name=f"Amina {HOSTILE}", medications=HOSTILE)
    fakes.Store().add(case, '<img src="file:///etc/hostname">.pdf', "application/pdf", b"%PDF")
    return [
        quote_comparison_content(case, [(quote.referral, quote)], today=TODAY),
        booking_summary_content(case, quote, case.attachments, CONTACT, today=TODAY),
    ]


@pytest.mark.parametrize("content", _hostile_documents(), ids=["comparison", "booking"])
def test_markup_in_patient_and_clinic_text_is_shown_escaped_and_fetches_nothing(content, monkeypatch):
    from weasyprint.urls import URLFetcher

    def forbidden(self, url, headers=None):
        raise AssertionError(f"default fetcher called for {url}")

    monkeypatch.setattr(URLFetcher, "fetch", forbidden)
    fetcher = SandboxedFetcher()
    rendered = build_patient_pdf(content, fetcher=fetcher)
    text = pdfs.squeeze(" ".join(pdfs.page_texts(rendered.data)))
    assert pdfs.squeeze(f"Evil {HOSTILE}") in text
    assert pdfs.squeeze('<img src="file:///etc/passwd">') in text and "<script>alert(1)</script>" in text
    if content.__class__.__name__ == "BookingSummaryContent":
        assert pdfs.squeeze('<img src="file:///etc/hostname">.pdf') in text
        assert pdfs.squeeze(f"Notes {HOSTILE}") in text
    assert "root:x:0:0" not in text
    assert set(fetcher.served) == FONTS
    assert fetcher.refused == []
    assert pdfs.images(rendered.data) == []


# ---------------------------------------------------------------- words


def test_every_included_item_has_its_russian_label():
    assert [include_label(key, "en") for key in INCLUDES] == list(INCLUDES.values())
    russian = [include_label(key, "ru") for key in INCLUDES]
    assert russian == ["Лечение", "Пребывание в клинике", "Трансферы из аэропорта и в клинику", "Переводчик"]
    assert include_label("spa", "ru") == "spa"


@pytest.mark.parametrize(("days", "russian"), [
    (1, "1 день"), (2, "2 дня"), (4, "4 дня"), (5, "5 дней"), (11, "11 дней"), (12, "12 дней"),
    (21, "21 день"), (22, "22 дня"), (111, "111 дней"),
])
def test_days_are_counted_in_russian(days, russian):
    assert format_days(days, "ru") == russian


def test_money_is_written_the_local_way():
    # One definition with the pages (service.i18n.format_money): English as the pages write it.
    assert format_money(Decimal("1234567.5"), "USD", "en") == "1,234,567.50 USD"
    assert format_money(Decimal("1234567.5"), "USD", "ru") == "1\u00a0234\u00a0567,50\u00a0USD"
    assert format_days(1, "en") == "1 day" and format_days(3, "de") == "3 days"
