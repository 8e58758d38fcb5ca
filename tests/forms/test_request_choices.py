"""The request form's select lists in the page's language: treatment names and clinic
cities from the catalogue, countries and contact languages from CLDR, and the contact
language refused when it is not on the list."""
from __future__ import annotations

import html

import pytest
from werkzeug.datastructures import MultiDict

from forms import RequestForm
from service import choices, i18n
from service.catalog import snapshot
from tests.fixtures.forms import valid_request

RUSSIAN = {"Accept-Language": "ru-RU,ru;q=0.9"}


def _form(page_language: str, **overrides) -> RequestForm:
    i18n.use_language(page_language)
    return RequestForm(formdata=MultiDict(valid_request(**overrides)), catalog=snapshot.current(), meta={"csrf": False})


def _labels(field) -> dict[str, str]:
    return {choice[0]: choice[1] for choice in field.choices}


@pytest.mark.parametrize("language, knee, clinic", [
    ("en", "Total knee replacement", "Costa Salud Hospital — Valencia, Spain"),
    ("ru", "Эндопротезирование коленного сустава", "Costa Salud Hospital — Валенсия, Испания"),
])
def test_treatments_and_clinics_are_named_in_the_page_language(app_ctx, language, knee, clinic):
    form = _form(language)
    assert _labels(form.treatment)["knee-replacement"] == knee
    assert _labels(form.preferred_clinic)["costa-salud-valencia"] == clinic


@pytest.mark.parametrize("language, names", [
    ("en", {"en": "English", "ru": "Russian", "ml": "Malayalam"}),
    ("ru", {"en": "Английский", "ru": "Русский", "ml": "Малаялам"}),
])
def test_the_contact_languages_are_named_in_the_page_language(app_ctx, language, names):
    offered = _labels(_form(language).language)
    assert {code: offered[code] for code in names} == names
    assert "vo" not in offered and "ae" not in offered
    labels = [label for code, label in _form(language).language.choices if code]
    assert labels == sorted(labels, key=choices.sort_key(language))


@pytest.mark.parametrize("language, message", [
    ("en", "Select a language from the list (ISO 639-1 code)."),
    ("ru", "Выберите язык из списка (код ISO 639-1)."),
])
def test_a_language_not_on_the_list_is_refused(app_ctx, language, message):
    for code in ("vo", "ae", "xx"):
        form = _form(language, language=code)
        assert not form.validate()
        assert form.errors["language"] == [message], code
    assert _form(language, language="kk").validate()


def test_the_russian_form_page_shows_the_russian_names(client):
    page = html.unescape(client.get("/requests/new", headers=RUSSIAN).get_data(as_text=True))
    assert '<option value="knee-replacement">Эндопротезирование коленного сустава</option>' in page
    assert "Costa Salud Hospital — Валенсия, Испания" in page and "Valencia" not in page
    assert 'value="ru">Русский</option>' in page and 'value="en">Английский</option>' in page
    assert '<option value="KR">Республика Корея</option>' in page
    refused = client.post("/requests/new", data=valid_request(language="vo"), content_type="multipart/form-data",
                          headers=RUSSIAN)
    assert refused.status_code == 422
    assert "Выберите язык из списка (код ISO 639-1)." in refused.get_data(as_text=True)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_treatments_stay_grouped_by_category_and_sorted_by_name_within_it(app_ctx, language):
    catalog = snapshot.current()
    category = {t.slug: t.category for t in catalog.treatments}
    listed = [(category[slug], name) for slug, name in _form(language).treatment.choices[1:]]
    assert [c for c, _ in listed] == sorted(c for c, _ in listed)
    for group in set(category.values()):
        names = [name for c, name in listed if c == group]
        assert names == sorted(names, key=choices.sort_key(language))
    if language == "ru":
        # Not the English order (Coronary angioplasty, Coronary artery bypass, Heart valve…).
        cardiology = [name for c, name in listed if c == "cardiology"]
        assert cardiology == ["Аортокоронарное шунтирование (АКШ)", "Коронарная ангиопластика и стентирование",
                              "Протезирование клапана сердца"]
