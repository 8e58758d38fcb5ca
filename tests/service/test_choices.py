"""The ISO lists of the form: the contact languages people write in, country names from
CLDR, each named in the page's language and sorted by that language's collation."""
from __future__ import annotations

import pytest

from service import choices


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_contact_languages_are_the_living_ones_with_locale_data_of_their_own(language):
    offered = dict(choices.contact_languages(language))
    assert {"en", "ru", "de", "tr", "ar", "he", "kk", "uk", "zh", "hi"} <= set(offered)
    # Avestan has no locale data of its own; Volapük has some (a CLDR seed locale) but,
    # like Latin, Sanskrit and Esperanto, is no living language (ISO 639-3 type "L").
    for dead_or_made_up in ("ae", "vo", "la", "sa", "cu", "eo", "io", "ia", "ie"):
        assert dead_or_made_up not in offered
    assert "ae" not in choices.written_languages(language)
    assert "vo" not in choices.written_languages(language)


def test_the_rule_is_the_locale_data_and_iso_639_3_not_a_list_of_exceptions():
    from babel import Locale
    from babel.localedata import locale_identifiers
    import pycountry

    own = set(locale_identifiers())
    assert "ae" not in own and "vo" in own  # why the living-language rule is needed for Volapük
    assert pycountry.languages.get(alpha_2="vo").type == "C" and pycountry.languages.get(alpha_2="ae").type == "H"
    names = Locale.parse("ru").languages
    expected = {
        lang.alpha_2 for lang in pycountry.languages
        if hasattr(lang, "alpha_2") and lang.alpha_2 in names and lang.alpha_2 in own and lang.type == "L"
    }
    assert choices.written_languages("ru") == expected


def test_the_names_are_in_the_page_language_and_sorted_by_its_collation():
    russian = choices.contact_languages("ru")
    named = dict(russian)
    assert (named["en"], named["ru"], named["de"], named["kk"]) == ("Английский", "Русский", "Немецкий", "Казахский")
    labels = [label for _, label in russian]
    # Cyrillic order (А … Я), "Ё" with "Е", case and the odd Latin name never first.
    assert labels[0].startswith("А") and labels[-1].startswith("Я")
    assert labels.index("Английский") < labels.index("Русский") < labels.index("Японский")
    english = [label for _, label in choices.contact_languages("en")]
    assert english == sorted(english, key=choices.sort_key("en"))
    assert english[:2] == ["Abkhazian", "Afar"] and "Russian" in english


def test_the_catalogues_clinic_languages_are_always_offered():
    # Sanskrit is no living language, so only a clinic that speaks it puts it on the list.
    assert "sa" not in dict(choices.contact_languages("ru"))
    offered = dict(choices.contact_languages("ru", {"sa", "en"}))
    assert offered["sa"] == "Санскрит"


def test_russian_collation_puts_yo_with_ye_and_latin_after_cyrillic():
    key = choices.sort_key("ru")
    assert sorted(["Ёж", "ель", "Жук", "Zulu", "Ежевика", "абрикос"], key=key) == [
        "абрикос", "Ёж", "Ежевика", "ель", "Жук", "Zulu",
    ]
    german = choices.sort_key("de")
    assert sorted(["Zypern", "Österreich", "Oman"], key=german) == ["Oman", "Österreich", "Zypern"]


def test_country_names_in_russian_come_from_cldr_sorted_by_collation():
    russian = choices.countries_in("ru")
    named = dict(russian)
    assert (named["DE"], named["KR"], named["ES"], named["TR"]) == ("Германия", "Республика Корея", "Испания", "Турция")
    assert [label for _, label in russian] == sorted(named.values(), key=choices.sort_key("ru"))
    assert set(named) == choices.codes(choices.countries())
