"""The public pages' language: the form's posted `language` field, else the switch
(`?lang=xx`, remembered in the session), else Accept-Language, else English; the
switch itself; the Russian form, its errors and the resumable uploads' refusals;
staff, clinic and API pages staying English whatever the patient's browser says."""
from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from service.extensions import db
from service.models import Case
from tests.fixtures.forms import valid_request
from tests.service.blueprints.test_tus import create, problem_of

RUSSIAN = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}


def _lang(page) -> str:
    return re.search(r'<html lang="([^"]+)"', page.get_data(as_text=True)).group(1)


def _text(page) -> str:
    return html.unescape(page.get_data(as_text=True))


def _switch(page) -> list[tuple[str, str, str, bool]]:
    """(code, name, href, current) of each link of the language switch."""
    nav = re.search(r'<nav class="language-switch"[^>]*>(.*?)</nav>', page.get_data(as_text=True), re.DOTALL)
    if nav is None:
        return []
    return [
        (m.group(2), m.group(4), html.unescape(m.group(1)), bool(m.group(3)))
        for m in re.finditer(
            r'<a href="([^"]+)" lang="([^"]+)" hreflang="[^"]+"( aria-current="true")?>([^<]+)</a>', nav.group(1)
        )
    ]


def _post(client, data, **headers):
    return client.post("/requests/new", data=data, content_type="multipart/form-data", headers=headers)


# ---------------------------------------------------------------- which language


def test_english_without_any_preference(client):
    page = client.get("/requests/new")
    assert _lang(page) == "en"
    assert "Full name" in _text(page)


@pytest.mark.parametrize("path", ["/requests/new", "/"])
def test_the_browsers_language_when_nothing_else_is_known(client, path):
    page = client.get(path, headers=RUSSIAN)
    assert page.status_code == 200
    assert _lang(page) == "ru"
    assert client.get(path, headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True).startswith(
        '<!doctype html>\n<html lang="en">'
    )


def test_the_switch_beats_the_browser_and_is_remembered(client):
    page = client.get("/requests/new?lang=en", headers=RUSSIAN)
    assert _lang(page) == "en"
    # Later pages (without ?lang) keep the choice, the landing page too.
    assert _lang(client.get("/requests/new", headers=RUSSIAN)) == "en"
    assert _lang(client.get("/", headers=RUSSIAN)) == "en"
    assert _lang(client.get("/?lang=ru", headers=ENGLISH)) == "ru"
    assert _lang(client.get("/requests/new", headers=ENGLISH)) == "ru"


def test_a_language_we_lack_in_the_switch_changes_nothing(client):
    assert _lang(client.get("/requests/new?lang=de", headers=RUSSIAN)) == "ru"
    assert _lang(client.get("/requests/new?lang=../../etc", headers=ENGLISH)) == "en"


def test_the_posted_language_field_beats_the_switch_when_the_form_comes_back(client):
    client.get("/requests/new?lang=en")
    page = _post(client, valid_request(full_name="", language="ru"), **ENGLISH)
    assert page.status_code == 422
    assert _lang(page) == "ru"
    assert "Укажите фамилию и имя." in _text(page)

    client.get("/requests/new?lang=ru")
    page = _post(client, valid_request(full_name="", language="en"), **RUSSIAN)
    assert _lang(page) == "en"
    assert "Enter your full name." in _text(page)


def test_a_posted_language_we_lack_falls_back_to_the_switch_then_the_browser(client):
    page = _post(client, valid_request(full_name="", language="de"), **RUSSIAN)
    assert _lang(page) == "ru"
    client.get("/requests/new?lang=en")
    page = _post(client, valid_request(full_name="", language="de"), **RUSSIAN)
    assert _lang(page) == "en"


def test_the_language_select_defaults_to_the_pages_language(client):
    russian = client.get("/requests/new", headers=RUSSIAN).get_data(as_text=True)
    assert re.search(r'<option selected value="ru">Русский</option>', russian)
    english = client.get("/requests/new").get_data(as_text=True)
    assert re.search(r'<option selected value="en">English</option>', english)


def test_a_successful_russian_submission_lands_on_the_russian_status_page(client):
    response = _post(client, valid_request(language="ru"), **ENGLISH)
    assert response.status_code == 303
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case.language == "ru"
    status = client.get(response.location)
    assert _lang(status) == "ru"
    assert f"Спасибо. Ваша заявка {case.reference}" in _text(status)


# ---------------------------------------------------------------- the switch


def test_the_switch_lists_every_language_in_its_own_name_and_marks_the_current(client):
    page = client.get("/requests/new?treatment=knee-replacement", headers=RUSSIAN)
    links = _switch(page)
    assert [(code, name, current) for code, name, _, current in links] == [
        ("en", "English", False), ("ru", "Русский", True),
    ]
    # Plain links that keep the page (and its query), so they work without JavaScript.
    hrefs = {code: href for code, _, href, _ in links}
    assert hrefs == {
        "en": "/requests/new?treatment=knee-replacement&lang=en",
        "ru": "/requests/new?treatment=knee-replacement&lang=ru",
    }
    english = client.get(hrefs["en"])
    assert _lang(english) == "en"
    assert [current for *_, current in _switch(english)] == [True, False]
    assert 'aria-label="Language"' in english.get_data(as_text=True)


def test_the_landing_page_has_the_switch_and_speaks_russian(client):
    page = client.get("/?lang=ru")
    assert [(code, href) for code, _, href, _ in _switch(page)] == [("en", "/?lang=en"), ("ru", "/?lang=ru")]
    text = _text(page)
    assert "Лечение за рубежом — мы всё организуем" in text
    assert "Ортопедия" in text


@pytest.mark.parametrize("path", ["/staff/login", "/clinic/login"])
def test_staff_and_clinic_pages_stay_english_without_a_switch(client, path):
    client.get("/requests/new?lang=ru")  # the patient's choice, in the same browser session
    page = client.get(path, headers=RUSSIAN)
    assert page.status_code == 200
    assert _lang(page) == "en"
    assert _switch(page) == []
    assert "language-switch" not in page.get_data(as_text=True)


# ---------------------------------------------------------------- the Russian form


def test_the_russian_form_labels_hints_and_choices(client):
    text = _text(client.get("/requests/new", headers=RUSSIAN))
    for label in ("Фамилия и имя", "Эл. почта", "Страна проживания", "Язык для связи с вами",
                  "Опишите вашу ситуацию", "С кодом страны, например +49 30 123456",
                  "Медицинские файлы (необязательно)", "Выберите страну", "Без предпочтений — выберите за меня"):
        assert label in text, label
    assert '<option value="DE">Германия</option>' in text
    assert '<option value="de">Немецкий</option>' in text
    assert '<option value="EUR">EUR — Евро</option>' in text
    # Sorted for Russian readers: Австралия before Германия before Япония.
    assert text.index(">Австралия<") < text.index(">Германия<") < text.index(">Япония<")
    assert "Full name" not in text and "Select your country" not in text


def test_a_russian_validation_error_in_the_summary_and_at_the_field(client):
    page = _post(client, valid_request(full_name="", description="коротко", language="ru"))
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    summary = re.search(r'<div class="error-summary".*?</div>', body, re.DOTALL).group(0)
    assert "Укажите фамилию и имя." in summary
    assert '<a href="#full_name">Укажите фамилию и имя.</a>' in summary
    assert "Напишите от 20 до 5000 символов (сейчас 7)." in html.unescape(summary)
    field = re.search(r'<ul class="field-errors" id="full_name-error">(.*?)</ul>', body, re.DOTALL).group(1)
    assert "Укажите фамилию и имя." in field
    assert "Enter your full name." not in body


def test_russian_file_messages(client):
    from tests.fixtures import files
    from tests.fixtures.forms import upload

    page = _post(client, valid_request(language="ru", files=[upload(b"", "пусто.pdf"), upload(files.elf_executable(), "a.exe")]))
    text = _text(page)
    assert "пусто.pdf: файл пустой (0 байт)." in text
    assert "a.exe:" in text and "PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM или ZIP" in text


def test_the_api_stays_english_whatever_the_browser_says(client):
    """The API shares the form; it never chooses a language, so its lazy messages are English."""
    response = client.post(
        "/api/v1/requests", data=valid_request(full_name="", language="ru"),
        content_type="multipart/form-data", headers=RUSSIAN,
    )
    assert response.status_code == 422
    body = json.loads(response.get_data(as_text=True))
    assert body["errors"]["full_name"] == ["Enter your full name."]
    assert body["detail"] == "One or more fields are invalid."


# ---------------------------------------------------------------- resumable uploads


def test_a_tus_refusal_speaks_the_pages_language_from_the_session(client, app):
    client.get("/requests/new?lang=ru")
    too_large = app.config["MAX_FILE_BYTES"] + 1
    detail = problem_of(create(client, too_large, "скан.pdf", **ENGLISH))["detail"]
    assert detail == (
        "скан.pdf: размер файла чуть больше 10 МБ (10\u00a0485\u00a0761 байт), а допустимо не больше 10 МБ на файл."
    )
    missing = client.head("/uploads/nope", headers={"Tus-Resumable": "1.0.0"})
    assert missing.status_code == 404
    gone = client.delete("/uploads/nope", headers={"Tus-Resumable": "1.0.0"})
    assert problem_of(gone)["detail"].startswith("У вас нет загрузки с таким идентификатором")


def test_a_tus_refusal_follows_accept_language_without_a_switch(client, app):
    too_large = app.config["MAX_FILE_BYTES"] + 1
    assert "MB" in problem_of(create(client, too_large, "scan.pdf"))["detail"]
    assert "МБ" in problem_of(create(client, too_large, "scan.pdf", **RUSSIAN))["detail"]
    english = client.post("/uploads", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "x", **ENGLISH})
    assert problem_of(english)["detail"] == "Upload-Length must be a whole number of bytes."
    russian = client.post("/uploads", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "x", **RUSSIAN})
    assert problem_of(russian)["detail"] == "Upload-Length должен быть целым числом байтов."


def test_the_russian_page_says_the_picked_files_must_be_picked_again(client):
    from tests.fixtures import files
    from tests.fixtures.forms import upload

    page = _post(client, valid_request(full_name="", language="ru", files=[upload(files.pdf(), "анализ.pdf")]))
    text = _text(page)
    assert "С вашими файлами (анализ.pdf) всё в порядке" in text
    assert "Отправить заявку" in text and "О вас" in text


def test_the_kept_uploads_are_listed_in_russian(client, storage):
    from tests.fixtures import files
    from tests.service.blueprints.test_requests import _staged

    first = _staged(client, files.pdf("a"), "МРТ.pdf")
    page = _post(client, valid_request(full_name="", language="ru", upload_ids=[first]))
    text = _text(page)
    assert "Этот файл уже загружен и сохранён: выбирать его снова не нужно." in text
    assert re.search(r"МРТ\.pdf</span> <span class=\"size\">\(\d+ байт\)</span> — загружен", text)
    second = _staged(client, files.pdf("b"), "КТ.pdf")
    text = _text(_post(client, valid_request(full_name="", language="ru", upload_ids=[first, second])))
    assert "Эти 2 файла уже загружены и сохранены" in text


def test_the_forms_error_pages_speak_the_pages_language(app, client):
    client.get("/requests/new?lang=ru")
    too_large = client.post(
        "/requests/new", data=b"x" * 16, content_type="multipart/form-data; boundary=abc",
        environ_overrides={"CONTENT_LENGTH": str(app.config["MAX_CONTENT_LENGTH"] + 1)},
    )
    assert too_large.status_code == 413
    assert _lang(too_large) == "ru"
    text = _text(too_large)
    assert "Ваши файлы слишком велики, чтобы отправить их вместе" in text
    assert "не больше 10 файлов по 10 МБ каждый" in text
    # The API's 413 stays English.
    api = client.post(
        "/api/v1/requests", data=b"x" * 16, content_type="multipart/form-data; boundary=abc",
        environ_overrides={"CONTENT_LENGTH": str(app.config["MAX_CONTENT_LENGTH"] + 1)}, headers=RUSSIAN,
    )
    assert api.status_code == 413
    assert "at most 10 files of 10 MB each" in api.get_data(as_text=True)


def test_the_api_stays_english_after_the_switch_in_the_same_session(client):
    client.get("/requests/new?lang=ru")
    response = client.post("/api/v1/requests", data=valid_request(email="x", language="ru"),
                           content_type="multipart/form-data", headers=RUSSIAN)
    assert response.status_code == 422
    errors = json.loads(response.get_data(as_text=True))["errors"]
    assert errors["email"] == ["Enter a valid email address, like name@example.com."]
