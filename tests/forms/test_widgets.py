"""The cached select renders what WTForms' own Select renders, whichever option is chosen,
in each language, and the chosen option of one page never leaks into the next."""
from __future__ import annotations

import pytest
from wtforms import Form, SelectField
from wtforms.validators import InputRequired

from service import choices
from forms.widgets import CachedSelect

LISTS = {
    "countries-en": choices.countries_in("en"),
    "countries-ru": choices.countries_in("ru"),
    "languages-ru": choices.contact_languages("ru"),
    "currencies-en": choices.currencies_in("en"),
}


def _both(options, data) -> tuple[str, str]:
    class Pair(Form):
        plain = SelectField(choices=options, validate_choice=False, validators=[InputRequired()])
        cached = SelectField(choices=options, validate_choice=False, validators=[InputRequired()],
                             widget=CachedSelect())

    form = Pair(data={"plain": data, "cached": data})
    attrs = {"aria-describedby": "hint", "class": "wide"}
    cached = str(form.cached(**attrs)).replace('name="cached"', 'name="plain"').replace('id="cached"', 'id="plain"')
    return str(form.plain(**attrs)), cached


@pytest.mark.parametrize("name", LISTS)
def test_the_cached_select_renders_what_wtforms_renders(name):
    options = [("", "Select <one> & go")] + LISTS[name]
    for data in (None, "", options[1][0], options[len(options) // 2][0], options[-1][0], "not-a-code"):
        plain, cached = _both(options, data)
        assert cached == plain, data


def test_the_chosen_option_of_one_page_is_not_chosen_on_the_next():
    options = [("", "Select")] + LISTS["countries-en"]
    _plain, first = _both(options, "KZ")
    _plain, second = _both(options, None)
    assert first.count(" selected ") == 1 and 'selected value="KZ"' in first
    assert "selected" not in second
