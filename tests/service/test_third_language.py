"""README "Languages": a third language needs no code change. A German catalogue,
compiled into a directory of its own (as `pybabel init` + `pybabel compile` would),
is configured on a fresh app; the switch lists it, the form speaks it, and the
emails and PDFs find it, with no line of code naming it."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import Flask

from tests.conftest import CATALOG, make_config
from tests.fixtures.forms import valid_request

ROOT = Path(__file__).resolve().parents[2]
GERMAN = {
    "Full name": "Vollständiger Name",
    "Enter your full name.": "Geben Sie Ihren vollständigen Namen ein.",
    "Request treatment": "Behandlung anfragen",
    "Request received": "Anfrage erhalten",
    "Medtour: we have received your request %(reference)s": "Medtour: Wir haben Ihre Anfrage %(reference)s erhalten",
}


def _compile(directory: Path, language: str, messages: dict[str, str]) -> None:
    catalog = Catalog(locale=language)
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr)
    target = directory / language / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as out:
        write_mo(out, catalog)


@pytest.fixture(scope="module")
def german_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from flask_migrate import upgrade

    from wsgi import create_app
    from service.catalog.loader import load_file
    from service.extensions import db

    tmp = tmp_path_factory.mktemp("third-language")
    extra = tmp / "translations"
    _compile(extra, "de", GERMAN)
    directories = f"{ROOT / 'service' / 'translations'};{extra}"
    application = create_app(make_config(
        f"sqlite:///{tmp / 'test.db'}", tmp, BABEL_TRANSLATION_DIRECTORIES=directories,
    ))
    with application.app_context():
        upgrade()
        load_file(CATALOG)
    yield application
    with application.app_context():
        db.engine.dispose()


def test_the_switch_lists_the_new_language_in_its_own_name(german_app: Flask):
    client = german_app.test_client()
    page = client.get("/requests/new?lang=de").get_data(as_text=True)
    assert page.startswith('<!doctype html>\n<html lang="de">')
    links = re.findall(r'<a href="([^"]+)" lang="(\w+)" hreflang="\w+"( aria-current="true")?>([^<]+)</a>', page)
    assert [(code, name, bool(current)) for _, code, current, name in links] == [
        ("en", "English", False), ("de", "Deutsch", True), ("ru", "Русский", False),
    ]


def test_the_form_speaks_the_new_language(german_app: Flask):
    client = german_app.test_client()
    page = client.get("/requests/new", headers={"Accept-Language": "de-AT,de;q=0.9"}).get_data(as_text=True)
    assert 'lang="de"' in page
    assert "Vollständiger Name" in page and "Behandlung anfragen" in page
    # Untranslated words fall back to English; country names come from CLDR's German.
    assert '<option value="FR">Frankreich</option>' in page
    refused = client.post("/requests/new", data=valid_request(full_name="", language="de"),
                          content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "Geben Sie Ihren vollständigen Namen ein." in refused.get_data(as_text=True)


def test_emails_and_pdfs_find_the_new_language(german_app: Flask):
    from service.notifications import emails
    from service.paperwork import wording as paperwork

    with german_app.app_context():
        assert emails.language_for("de-CH") == "de"
        email = emails.patient_confirmation(
            reference="MT-1", status_url="http://medtour.test/s/x", language="de",
            contact_email="care@medtour.test", mail_from="no-reply@medtour.test", to="a@example.org",
        )
        assert email["Subject"] == "Medtour: Wir haben Ihre Anfrage MT-1 erhalten"
        assert email["Content-Language"] == "de"
        assert paperwork.words("de")("Request received") == "Anfrage erhalten"
        assert paperwork.format_date(date(2026, 11, 25), "de") == "25 November 2026"


def _german_catalogue() -> dict:
    """The demo catalogue with German texts for one treatment and one clinic: data only."""
    import json

    data = json.loads(CATALOG.read_text(encoding="utf-8"))
    knee = next(t for t in data["treatments"] if t["slug"] == "knee-replacement")
    knee["name"]["de"] = "Kniegelenkersatz"
    knee["description"]["de"] = "Ein verschlissenes Kniegelenk wird durch ein künstliches ersetzt."
    cologne = next(c for c in data["clinics"] if c["slug"] == "rhein-herzzentrum-cologne")
    cologne["city"]["de"] = "Köln"
    return data


def test_a_catalogue_with_german_texts_shows_them_on_german_pages(german_app: Flask):
    from service.catalog.loader import load_catalog, load_file
    from service.paperwork import confirmation_content
    from tests.service.paperwork import fakes

    with german_app.app_context():
        load_catalog(_german_catalogue())
    try:
        client = german_app.test_client()
        form = client.get("/requests/new?lang=de").get_data(as_text=True)
        assert '<option value="knee-replacement">Kniegelenkersatz</option>' in form
        assert "Rhein Heart Centre — Köln, Deutschland" in form
        # What has no German text is English, with the country still in German.
        assert "Costa Salud Hospital — Valencia, Spanien" in form
        assert "Kniegelenkersatz" in client.get("/?lang=de").get_data(as_text=True)
        english = client.get("/requests/new?lang=en").get_data(as_text=True)
        assert "Total knee replacement" in english and "Rhein Heart Centre — Cologne, Germany" in english
        with german_app.app_context():
            treatment = fakes.Treatment(name="Total knee replacement", translations={"de": {"name": "Kniegelenkersatz"}})
            content = confirmation_content(fakes.Case(language="de", treatment=treatment), [], "care@medtour.test")
            assert (content.language, content.treatment) == ("de", "Kniegelenkersatz")
    finally:
        with german_app.app_context():
            load_file(CATALOG)
