"""The status page in the patient's language (`Case.language`): Russian for a Russian
case, English for an English one and for a language we have no catalogue for; staff
pages, the clinic portal and the API stay English whatever the case's language."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest

from service.cases import quotes, workflow
from service.extensions import db
from service.models import Case
from service.paperwork.wording import format_money
from tests.fixtures import files
from tests.fixtures.cases import post_request
from tests.fixtures.forms import upload
from tests.fixtures.staff import sign_in
from tests.service.blueprints.test_status_quotes import CHEAP, DEAR, quoted_case, store_document, terms, today

NBSP = "\u00a0"


def text_of(html: str) -> str:
    """What a person reads: no tags, entities decoded, white space collapsed (but the
    no-break spaces inside numbers kept)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def quoted(language: str, **prices: str) -> tuple[Case, str, dict[str, quotes.Quote]]:
    """A routed case in `language` with its status path and one accepted quote per clinic."""
    made = quoted_case(language=language, **prices)
    return made.case, made.page, made.quotes


def test_a_russian_request_gets_its_status_page_in_russian(client):
    case, path = post_request(client, files=[upload(files.pdf(), "анализы.pdf"), upload(files.png(), "фото.png")])
    assert case.language == "ru"
    response = client.get(path)
    assert response.status_code == 200
    html, page = response.text, text_of(response.text)
    assert '<html lang="ru">' in html
    # The flash from the form, then the page itself.
    assert f"Спасибо. Ваша заявка {case.reference} принята." in page
    assert f"Ваша заявка {case.reference}" in page
    assert "Статус: Получена" in page
    assert ("Мы направляем вашу заявку в клиники, которые лучше всего подходят для вашего лечения; "
            "одновременно её рассматривает координатор — обычно в течение одного рабочего дня.") in page
    assert "Предложения клиник" in page and "Предложений пока нет." in page
    assert "Удалить мои данные" in page and "Отменить удаление будет невозможно." in page
    assert "Отозвать заявку" in page and "История заявки" in page
    assert "Осталось файлов: 8 из 10" in page
    assert "До 10 файлов, не больше 10 МБ каждый: PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM или ZIP." in page
    assert "Заявка получена" in page  # the timeline
    assert "Перейти к содержимому" in page and "клинику выбираете вы" in page  # the layout
    # files.js gets its words in Russian too.
    assert 'data-text-left="Осталось файлов: {left} из {max}"' in html
    # Nothing of the English page is left.
    for english in ("Your request", "Quotes from clinics", "Erase my data", "files left", "Timeline",
                    "Skip to content", "Thank you."):
        assert english not in page, english


def test_an_english_request_and_one_in_a_language_we_lack_get_english(client):
    for language in ("en", "de"):
        case, path = post_request(client, language=language)
        html = client.get(path).text
        page = text_of(html)
        assert '<html lang="en">' in html, language
        assert f"Your request {case.reference}" in page
        assert "Status: Received" in page and "Quotes from clinics" in page and "Erase my data" in page
        assert "10 of 10 files left" in page
        assert f"Thank you. Your request {case.reference} is on record." in page
        assert not re.search("[а-яё]", page, re.IGNORECASE), f"Cyrillic on the {language} page"


def test_adding_files_on_a_russian_page_flashes_and_counts_in_russian(client):
    _case, path = post_request(client)
    one = client.post(f"{path}/files", data={"files": [upload(files.pdf(), "a.pdf")]},
                      content_type="multipart/form-data")
    assert one.status_code == 303
    assert "К заявке добавлен 1 файл." in text_of(client.get(path).text)
    two = client.post(f"{path}/files", data={"files": [upload(files.png(), "b.png"), upload(files.jpeg(), "c.jpg")]},
                      content_type="multipart/form-data")
    assert two.status_code == 303
    page = text_of(client.get(path).text)
    assert "К заявке добавлено 2 файла." in page
    assert "Добавлен 1 файл" in page and "Добавлено 2 файла" in page  # the timeline
    assert "Осталось файлов: 7 из 10" in page


def test_a_question_and_the_answer_on_a_russian_page(client, coordinator):
    case, path = post_request(client)
    workflow.perform(case, "request_info", coordinator, question="Какое колено болит?")
    db.session.commit()
    page = text_of(client.get(path).text)
    assert "Статус: Ждём вашего ответа" in page
    assert "Вопрос от вашего координатора" in page and "Какое колено болит?" in page
    assert "Ваш ответ" in page and "Файлы (необязательно)" in page and "Отправить ответ" in page
    empty = client.post(f"{path}/answer", data={"reply-answer": " "}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Напишите ответ на вопрос." in text_of(empty.text)
    sent = client.post(f"{path}/answer", data={"reply-answer": "Левое."}, content_type="multipart/form-data")
    assert sent.status_code == 303
    page = text_of(client.get(path).text)
    assert "Спасибо: ваш ответ отправлен координатору." in page
    assert "Ваши ответы" in page and "Левое." in page and "Ответ дан" in page
    again = client.post(f"{path}/answer", data={"reply-answer": "Ещё"}, content_type="multipart/form-data")
    assert "По этой заявке нет открытого вопроса; возможно, на него уже ответили." in text_of(
        client.get(again.location).text)


def test_refusals_on_a_russian_page_are_in_russian(client):
    case, path = post_request(client, files=[upload(files.png(i), f"p{i}.png") for i in range(8)])
    bad_type = client.post(f"{path}/files", data={"files": [upload(files.elf_executable(), "notes.pdf")]},
                           content_type="multipart/form-data")
    assert bad_type.status_code == 422
    page = text_of(bad_type.text)
    assert "Есть ошибки" in page
    assert "notes.pdf: файлы этого типа не принимаются; подойдут PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM или ZIP." in page
    too_many = client.post(f"{path}/files", data={"files": [upload(files.png(), f"x{i}.png") for i in range(5)]},
                           content_type="multipart/form-data")
    assert too_many.status_code == 422
    assert ("Вы выбрали 5 файлов, но добавить можно ещё только 2 (уже приложено 8 из 10)."
            in text_of(too_many.text))
    none = client.post(f"{path}/files", data={}, content_type="multipart/form-data")
    assert "Выберите хотя бы один файл." in text_of(none.text)
    wrong = client.post(f"{path}/erase", data={"reference": "MT-0000-000000"})
    assert wrong.status_code == 422
    assert f"Это не номер этой заявки; для подтверждения введите в точности {case.reference}." in text_of(wrong.text)


def test_quotes_on_a_russian_page_speak_russian_money_dates_and_days(client, db_session):
    _case, path, made = quoted("ru", **{DEAR: "12500", CHEAP: "9900"})
    first = made[DEAR]
    quotes.revise(first.referral, terms(price="11000", includes=["treatment", "stay", "interpreter"]),
                  first.created_by)
    db.session.commit()
    html = client.get(path).text
    page = text_of(html)
    assert "Статус: Предложения готовы" in page  # not "sent to clinics" while quotes wait
    assert "Предложения клиник" in page
    for money in ("9900", "12500"):
        shown = format_money(Decimal(money), "EUR", "ru")  # the PDFs' Russian money
        assert shown in page and shown.startswith(f"{money[:-3]}{NBSP}")
    assert page.index(format_money(Decimal("9900"), "EUR", "ru")) < page.index(format_money(Decimal("12500"), "EUR", "ru"))
    # The city and the country in one language, and the treatment's Russian name (the catalogue's).
    assert "Анталья, Турция" in page and "Пхукет, Таиланд" in page and "Antalya" not in page
    assert "Лечение Остеоинтегрированный протез при ампутации выше колена" in page
    assert "Что входит Лечение Пребывание в клинике" in page
    assert "Длительность пребывания 7 дней" in page
    valid_until = today() + timedelta(days=60)
    months = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
              "октября", "ноября", "декабря")
    assert f"Действует до {valid_until.day} {months[valid_until.month - 1]} {valid_until.year}" in page
    assert "Клиника изменила предложение: что поменялось" in page
    assert f"Цена 12{NBSP}500,00 11{NBSP}000,00" in page
    assert "Лечение, Пребывание в клинике, Переводчик" in page
    assert "Выбрать эту клинику" in page and "Принять изменённое предложение" in page
    assert "Клиника Anatolia Smile Dental изменила предложение (версия 2)" in page  # the timeline

    confirm = text_of(client.get(f"{path}/quotes/{made[CHEAP].id}/choose").text)
    assert "Выбрать клинику Andaman Aesthetic Surgery?" in confirm
    assert "Да, выбрать клинику Andaman Aesthetic Surgery" in confirm and "Нет, вернуться к заявке" in confirm
    chosen = client.post(f"{path}/quotes/{made[CHEAP].id}/choose")
    assert chosen.status_code == 303
    page = text_of(client.get(path).text)
    assert "Вы выбрали клинику Andaman Aesthetic Surgery." in page  # the flash
    assert "Статус: Клиника выбрана" in page and "Ваш выбор: Andaman Aesthetic Surgery" in page
    assert f"на сумму {format_money(Decimal('9900'), 'EUR', 'ru')}" in page


def test_the_documents_on_a_russian_page(client, db_session, storage):
    case, path, _ = quoted("ru", **{CHEAP: "9900"})
    store_document(storage, case, "confirmation", files.pdf("одна страница"))
    comparison = store_document(storage, case, "quote_comparison", files.pdf("сравнение"))
    comparison.pages = 3
    db.session.commit()
    page = text_of(client.get(path).text)
    assert "Ваши документы" in page
    assert "Подтверждение заявки PDF, 1 страница, обновлено" in page
    assert "Сравнение предложений PDF, 3 страницы, обновлено" in page


def test_a_refused_decision_says_why_in_russian(client, db_session):
    _case, path, made = quoted("ru", **{CHEAP: "9900"})
    expired = made[CHEAP]
    expired.valid_until = today() - timedelta(days=1)
    db.session.commit()
    refused = client.post(f"{path}/quotes/{expired.id}/choose")
    assert refused.status_code == 422
    page = text_of(refused.text)
    assert "Срок действия этого предложения истёк" in page and "Ничего не изменено." in page
    assert "Срок истёк" in page  # the card's badge


def test_withdrawing_and_erasing_on_a_russian_page(client, db_session, redis_url):
    case, path, _ = quoted("ru", **{CHEAP: "9900"})
    confirm = text_of(client.get(f"{path}/withdraw").text)
    assert f"Отозвать заявку {case.reference}?" in confirm and "Да, отозвать заявку" in confirm
    assert client.post(f"{path}/withdraw").status_code == 303
    page = text_of(client.get(path).text)
    assert "Вы отозвали заявку, и она закрыта" in page and "Статус: Закрыта" in page

    done = client.post(f"{path}/erase", data={"reference": case.reference})
    assert done.status_code == 303 and done.location.endswith("/s/erased?lang=ru")
    farewell = client.get(done.location)
    assert '<html lang="ru">' in farewell.text
    page = text_of(farewell.text)
    assert f"Заявка {case.reference}: мы удаляем ваши данные." in page
    assert "Ваши данные удаляются" in page and "Ваша ссылка на страницу статуса больше не работает" in page
    # The goodbye page takes only a language we have, and is English otherwise.
    assert '<html lang="en">' in client.get("/s/erased?lang=xx").text


def test_a_missing_document_of_a_russian_case_is_a_russian_404(client, db_session):
    _case, path, _ = quoted("ru")
    missing = client.get(f"{path}/documents/confirmation")
    assert missing.status_code == 404
    page = text_of(missing.text)
    assert '<html lang="ru">' in missing.text
    assert "Страница не найдена" in page and "Этот документ недоступен для вашей заявки." in page
    # A link that opens nothing cannot say whose language it is.
    assert '<html lang="en">' in client.get("/s/not-a-real-token").text


def test_the_staff_case_file_of_a_russian_case_stays_english(client, coordinator):
    case, path = post_request(client, files=[upload(files.pdf(), "a.pdf")])
    assert case.language == "ru"
    assert '<html lang="ru">' in client.get(path).text  # the patient's page first, same app context
    sign_in(client, coordinator)
    html = client.get(f"/staff/cases/{case.reference}").text
    page = text_of(html)
    assert '<html lang="en">' in html
    assert "Request received" in page
    assert not re.search("[а-яё]", page, re.IGNORECASE), "Cyrillic on the staff case file"
    queue = client.get("/staff/cases").text
    assert '<html lang="en">' in queue and "New" in text_of(queue)


def test_the_clinic_portal_page_of_a_russian_case_stays_english(client, db_session):
    _case, path, made = quoted("ru", **{DEAR: "12500"})
    first = made[DEAR]
    quotes.revise(first.referral, terms(price="11000", includes=["treatment", "stay", "interpreter"]),
                  first.created_by)
    db.session.commit()
    assert '<html lang="ru">' in client.get(path).text
    sign_in(client, first.created_by)
    html = client.get(f"/clinic/referrals/{first.referral_id}").text
    page = text_of(html)
    assert '<html lang="en">' in html
    assert "Hospital stay" in page and "Interpreter" in page
    assert "Price" in page and "12500.00" in page
    assert not re.search("[а-яё]", page, re.IGNORECASE), "Cyrillic on the clinic portal"


def test_the_api_stays_english_for_a_russian_case(client, db_session):
    _case, path, _ = quoted("ru", **{CHEAP: "9900"})
    client.get(path)
    body = client.get(f"/api/v1/requests/{path.rsplit('/', 1)[1]}").get_json()
    assert body["status_label"] == "Sent to clinics"
    assert body["next_step"].startswith("Clinics suited to your treatment")
    assert [e["text"] for e in body["timeline"]] == ["Andaman Aesthetic Surgery sent a quote"]


@pytest.mark.parametrize("language", ["ru", "ru-RU", "RU"])
def test_a_regional_or_capitalised_russian_is_russian(client, db_session, language):
    _case, path, _ = quoted(language)
    assert '<html lang="ru">' in client.get(path).text
