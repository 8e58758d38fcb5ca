"""The pages that earn a patient's trust (/privacy, /contact, /imprint): filled from
configuration, in English and Russian, linked from every public page's footer and from
the form's consent checkbox."""
from __future__ import annotations

import re
from html import unescape

import pytest
from flask import Flask

from service import i18n, trust
from tests.fixtures.cases import post_request

TRUST_PAGES = ("/privacy", "/contact", "/imprint")
HARBOUR = {
    "AGENCY_NAME": "Harbour Care Ltd",
    "AGENCY_ADDRESS": "1 Quay Street, Cork T12 X70A, Ireland",
    "AGENCY_REGISTRATION": "Companies Registration Office 654321",
    "AGENCY_PHONE": "+353 21 400 1234",
    "CONTACT_EMAIL": "hello@harbour.example",
}


@pytest.fixture
def harbour(app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Another agency's configuration: what the pages print must follow it."""
    for key, value in HARBOUR.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "PRIVACY_EMAIL", None)
    return HARBOUR


def text_of(page) -> str:
    """The page's visible text, tags dropped and whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def get(client, path: str, language: str):
    page = client.get(path, query_string={"lang": language})
    assert page.status_code == 200, page.text
    assert f'<html lang="{language}"' in page.text
    return page


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_imprint_names_the_agency_from_configuration(client, harbour, language):
    page = get(client, "/imprint", language)
    text = text_of(page)
    for key in ("AGENCY_NAME", "AGENCY_ADDRESS", "AGENCY_REGISTRATION", "AGENCY_PHONE", "CONTACT_EMAIL"):
        assert harbour[key] in text, key
    assert 'href="mailto:hello@harbour.example"' in page.text
    assert 'href="tel:+353214001234"' in page.text
    assert ("Imprint" if language == "en" else "Выходные данные") in text
    assert "Medtour Patient Services GmbH" not in text


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_contact_page_gives_the_ways_to_reach_us_and_the_case_s_messages(client, harbour, language):
    page = get(client, "/contact", language)
    text = text_of(page)
    for key in ("AGENCY_NAME", "AGENCY_ADDRESS", "AGENCY_PHONE", "CONTACT_EMAIL"):
        assert harbour[key] in text, key
    # An existing request: the status page's messages, replies to our e-mails, a lost link.
    assert 'href="/s/lost"' in page.text
    if language == "en":
        assert "“Messages” section" in text and "reply to any e-mail we sent you" in text
    else:
        assert "раздел «Сообщения»" in text and "ответьте на любое наше письмо" in text


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_privacy_notice_names_the_controller_retention_and_consent(client, harbour, app, monkeypatch, language):
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 45)
    monkeypatch.setitem(app.config, "PRIVACY_EMAIL", "dpo@harbour.example")
    with app.test_request_context():
        i18n.use_language(language)
        since = i18n.format_day(trust.CONSENT_DATE)
    page = get(client, "/privacy", language)
    text = text_of(page)
    assert "Harbour Care Ltd, 1 Quay Street, Cork T12 X70A, Ireland" in text
    assert 'href="mailto:dpo@harbour.example"' in page.text
    assert trust.CONSENT_VERSION in text
    assert "Article 9(2)(a)" in text if language == "en" else "статья 9(2)(a)" in text
    if language == "en":
        assert "Privacy notice" in text
        assert f"Version 2026-12, in force since {since}." in text
        assert trust.CONSENT_TEXT in text
        assert "automatically 45 days after it closed" in text
        assert "If a clinic does not answer within 72 hours" in text
        assert "deleted after 24 hours" in text
    else:
        assert "Политика конфиденциальности" in text
        assert f"Редакция 2026-12, действует с {since}." in text and "2026" in since
        assert "Я согласен (согласна)" in text
        assert "через 45 дней после закрытия" in text
        assert "в течение 72 ч" in text


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_privacy_notice_follows_what_the_configuration_makes_the_code_do(client, app, monkeypatch, language):
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 0)
    monkeypatch.setitem(app.config, "AUTO_ROUTE", False)
    monkeypatch.setitem(app.config, "ROUTING_ESCALATE", False)
    monkeypatch.setitem(app.config, "ROUTING_TOP_N", 1)
    monkeypatch.setitem(app.config, "STORAGE_URL", "s3://medtour-files/prod")
    text = text_of(get(client, "/privacy", language))
    if language == "en":
        assert "When your request is closed, we keep it until you ask us to erase it." in text
        assert "automatically" not in text
        assert "A coordinator reviews your request first, then sends it to up to 1 clinic that offers" in text
        assert "as soon as it arrives" not in text and "does not answer within" not in text
        assert "kept in a cloud file store, encrypted there" in text
    else:
        assert "Закрытую заявку мы храним, пока вы не попросите её удалить." in text
        assert "не более чем 1 клинике" in text
        assert "в облачном хранилище" in text


def test_the_privacy_notice_with_the_default_configuration(client, app):
    text = text_of(get(client, "/privacy", "en"))
    assert f"automatically {app.config['RETENTION_DAYS']} days after it closed" in text
    assert "goes to up to 3 clinics that offer your treatment as soon as it arrives" in text
    assert "the next suitable clinic receives it too" in text
    assert "kept on our own server" in text
    assert "up to 2 companions" in text
    assert 'href="mailto:care@medtour.example"' in client.get("/privacy").text


def _footer(page) -> str:
    match = re.search(r'<footer class="site-footer">.*?</footer>', page.text, re.S)
    assert match, "the page has no footer"
    return match.group(0)


def _assert_footer_links(page, where: str) -> None:
    footer = _footer(page)
    for path in TRUST_PAGES:
        assert re.search(rf'href="{path}(\?lang=\w+)?"', footer), f"{where}: the footer does not link {path}"


def test_every_public_page_s_footer_links_the_three_pages(client, app):
    case, status_path = post_request(client)
    pages = ["/", "/requests/new", "/requests/new?treatment=osseointegrated-prosthesis-transfemoral",
             "/s/lost", "/s/erased", status_path, *TRUST_PAGES]
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    # The public catalogue, where it exists.
    for endpoint, path in (("catalogue.clinics", "/clinics"), ("catalogue.treatments", "/treatments")):
        if endpoint in endpoints:
            pages.append(path)
    for path in pages:
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        _assert_footer_links(page, path)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    _assert_footer_links(missing, "the 404 page")


def test_the_footer_keeps_the_page_s_language(client):
    case, status_path = post_request(client, language="ru")
    footer = _footer(client.get(status_path))
    assert 'href="/privacy?lang=ru">Политика конфиденциальности</a>' in footer
    assert 'href="/contact?lang=ru">Контакты</a>' in footer
    assert 'href="/imprint?lang=ru">Выходные данные</a>' in footer
    footer = _footer(client.get("/", query_string={"lang": "en"}))
    assert 'href="/privacy">Privacy notice</a>' in footer
    # On the page itself, its link says so.
    footer = _footer(client.get("/contact"))
    assert 'href="/contact" aria-current="page">Contact</a>' in footer
    assert 'href="/privacy">Privacy notice</a>' in footer


@pytest.mark.parametrize(("language", "href", "link_text"), [
    ("en", "/privacy", "Read the privacy notice (opens in a new tab)"),
    ("ru", "/privacy?lang=ru", "Прочитайте политику конфиденциальности (откроется в новой вкладке)"),
])
def test_the_consent_checkbox_s_label_links_the_privacy_notice(client, language, href, link_text):
    page = get(client, "/requests/new", language)
    label = re.search(r'<label for="consent">(.*?)</label>', page.text, re.S)
    assert label, "the consent checkbox has no label"
    assert f'<a href="{href}" target="_blank" rel="noopener">{link_text}</a>' in label.group(1)
    wording = "I consent to Medtour processing" if language == "en" else "Я согласен (согласна)"
    assert wording in label.group(1)
