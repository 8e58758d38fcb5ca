"""Country names from CLDR (Babel's locale data) in the page's or the document's language;
pycountry only says which codes exist. English keeps the short names the documents
have always printed."""
from __future__ import annotations

from flask import Flask

from service import i18n
from service.paperwork import wording


def test_country_names_in_each_language_come_from_cldr():
    assert i18n.country_name("DE", "ru") == "Германия"
    assert i18n.country_name("KR", "ru") == "Республика Корея"   # CLDR; pycountry's Russian says "Корея, Республика"
    assert i18n.country_name("TR", "ru") == "Турция"
    assert i18n.country_name("es", "ru") == "Испания"              # any case
    assert i18n.country_name("FR", "de") == "Frankreich"           # a language we have no catalogue for
    assert i18n.country_name("CZ", "uk") == "Чехія"


def test_english_names_are_the_short_ones_and_unknown_codes_stay_as_they_are():
    assert i18n.country_name("KR", "en") == "South Korea"
    assert i18n.country_name("TR", "en") == "Türkiye"
    assert i18n.country_name("GB", "en") == "United Kingdom"
    assert i18n.country_name("ZZ", "ru") == "ZZ"
    assert i18n.country_name("", "ru") == ""


def test_the_page_language_is_the_default(app: Flask):
    with app.test_request_context():
        assert i18n.country_name("ES") == "Spain"
        i18n.use_language("ru")
        assert i18n.country_name("ES") == "Испания"


def test_the_documents_use_the_same_names():
    assert wording.country_name("KR", "ru") == i18n.country_name("KR", "ru") == "Республика Корея"
    assert wording.country_name("kr", "en") == "South Korea"
    assert wording.country_name("DE", "xx") == "Germany"           # a language we lack: English
    assert wording.country_name(None, "ru") == ""


def test_each_languages_names_are_read_once():
    i18n._territories.cache_clear()
    for _ in range(3):
        i18n.country_name("DE", "ru")
        i18n.country_name("DE", "de")
    assert i18n._territories.cache_info().misses == 2
