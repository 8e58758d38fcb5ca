"""The patient's confirmation, in English and in Russian."""
from __future__ import annotations

import pytest

from service.paperwork import build_confirmation_pdf, confirmation_content
from service.paperwork.wording import resolve, words
from tests.fixtures import files
from tests.service.paperwork import fakes, pdfs


def _confirmation(language: str, with_files: bool = True):
    case = fakes.Case(language=language)
    store = fakes.Store()
    if with_files:
        store.add(case, "МРТ колена.pdf", "application/pdf", files.pdf())
        store.add(case, "photo.jpg", "image/jpeg", files.jpeg())
    content = confirmation_content(case, case.attachments, "care@medtour.test")
    rendered = build_confirmation_pdf(content)
    texts = pdfs.page_texts(rendered.data)
    return case, content, rendered, texts, pdfs.flat(" ".join(texts))


def test_english_confirmation():
    case, content, rendered, texts, text = _confirmation("en")
    assert content.language == "en"
    assert rendered.pages == len(texts) == 1
    assert "Request received" in text
    assert "Reference MT-2026-000042" in text
    assert "Received on 25 November 2026" in text
    assert "What happens next" in text and "within one working day" in text
    assert "Write to care@medtour.test and quote your reference MT-2026-000042." in text
    assert "Your health data is only shared with the clinics handling your request." in text
    assert "Page 1 of 1" in text and "Confidential — health data" in text
    assert "585 bytes" in text
    for attachment in case.attachments:
        assert attachment.filename in text
        assert f"SHA-256 {attachment.sha256}" in text


def test_russian_confirmation():
    case, content, rendered, texts, text = _confirmation("ru")
    assert content.language == "ru"
    assert "Заявка получена" in text
    assert "Что будет дальше" in text
    assert "а координатор одновременно рассмотрит вашу заявку, обычно в течение одного рабочего дня." in text
    assert "Дата получения 25 ноября 2026" in text
    assert "Пишите на care@medtour.test и укажите номер заявки MT-2026-000042." in text
    assert "Ваши медицинские данные передаются только клиникам" in text
    assert "Страница 1 из 1" in text
    assert "Конфиденциально — медицинские данные" in text
    assert "МРТ колена.pdf" in text
    assert "585 байт" in text
    assert "Request received" not in text
    for attachment in case.attachments:
        assert f"SHA-256 {attachment.sha256}" in text


@pytest.mark.parametrize("language", ["de", "", "xx-YY"])
def test_other_languages_fall_back_to_english(language):
    _, content, _, _, text = _confirmation(language, with_files=False)
    assert content.language == "en"
    assert "Request received" in text
    assert "You did not attach any files." in text


def test_language_codes_are_resolved():
    assert resolve("ru-RU") == resolve("RU") == resolve("ru_RU") == "ru"
    assert resolve(None) == resolve("kk") == "en"


def test_the_documents_words_are_the_web_catalogues():
    """One source of translations: the PDFs read service/translations, without an app or request."""
    assert words("ru")("Request received") == "Заявка получена"
    assert words("ru")("Write to %(email)s and quote your reference %(reference)s.",
                       email="a@b.c", reference="MT-1") == "Пишите на a@b.c и укажите номер заявки MT-1."
    assert words("kk").language == "en" and words("kk")("Request received") == "Request received"


def test_confirmation_of_many_files_runs_over_pages_with_numbers():
    case = fakes.Case(language="ru")
    store = fakes.Store()
    for n in range(40):
        store.add(case, f"снимок {n:02d}.png", "image/png", files.png())
    rendered = build_confirmation_pdf(confirmation_content(case, case.attachments, "care@medtour.test"))
    texts = pdfs.page_texts(rendered.data)
    assert rendered.pages == len(texts) > 1
    for number, page in enumerate(texts, start=1):
        assert "MT-2026-000042" in page
        assert f"Страница {number} из {len(texts)}" in page
    assert "снимок 39.png" in " ".join(texts)


def test_the_documents_language_is_the_cases_never_the_requests(app):
    """Rendered during a Russian page's request (or a worker's app context), an English
    case's confirmation is English, and a Russian case's Russian."""
    from service import i18n as web

    with app.test_request_context():
        web.use_language("ru")
        *_, english = _confirmation("en", with_files=False)
        assert "Request received" in english and "Заявка получена" not in english
    with app.app_context():
        *_, russian = _confirmation("ru", with_files=False)
        assert "Заявка получена" in russian and "Request received" not in russian


@pytest.mark.parametrize(("language", "at_once", "waiting"), [
    ("en", "We send your case at once to the clinics best suited to your treatment, and a coordinator reviews",
     "A coordinator reviews your request, usually within one working day."),
    ("ru", "Мы сразу направим ваш случай в клиники",
     "Координатор рассмотрит вашу заявку, обычно в течение одного рабочего дня."),
])
def test_what_happens_next_is_what_auto_route_does(language, at_once, waiting):
    def text(routed_at_once: bool) -> str:
        case = fakes.Case(language=language)
        content = confirmation_content(case, [], "care@medtour.test", routed_at_once=routed_at_once)
        return pdfs.flat(" ".join(pdfs.page_texts(build_confirmation_pdf(content).data)))

    routed, manual = text(True), text(False)
    assert at_once in routed and waiting not in routed
    assert waiting in manual and at_once not in manual
