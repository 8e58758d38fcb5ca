"""The request form's preferred-clinic list: prefilled from a catalogue link
(`/requests/new?treatment=<slug>&clinic=<slug>`), narrowed to the clinics that offer the
chosen treatment (on the server, and with data-treatments for clinic-choice.js), no
paused clinic, and a refused mismatch that names the clinic and the treatment in the
page's language."""
from __future__ import annotations

import html
import re

import pytest

from tests.fixtures.catalogues import CATALOGUE_KNEE, CATALOGUE_PAUSED, CATALOGUE_VALVE, load_catalogue_data
from tests.fixtures.forms import valid_request

ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def catalogue(app_ctx) -> dict:
    return load_catalogue_data()


def _select(text: str, name: str) -> str:
    found = re.search(rf'<select[^>]* name="{name}"[^>]*>(.*?)</select>', text, re.DOTALL)
    assert found, f"no select {name}"
    return found.group(1)


def _options(text: str, name: str) -> dict[str, str]:
    """value -> the option's attributes (as written), for one select."""
    return {m.group(2): m.group(1) + m.group(3)
            for m in re.finditer(r'<option ([^>]*?)value="([^"]*)"([^>]*)>', _select(text, name))}


def _shown(options: dict[str, str]) -> set[str]:
    return {value for value, attributes in options.items() if "hidden" not in attributes}


def _selected(options: dict[str, str]) -> list[str]:
    return [value for value, attributes in options.items() if "selected" in attributes]


def _post(client, **overrides: str):
    return client.post("/requests/new", data=valid_request(**overrides), content_type="multipart/form-data",
                       headers=ENGLISH)


def test_a_catalogue_link_fills_in_the_treatment_and_the_clinic(client, catalogue):
    page = client.get(f"/requests/new?treatment={CATALOGUE_VALVE}&clinic=cat-riga-clinic", headers=ENGLISH)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert _selected(_options(text, "treatment")) == [CATALOGUE_VALVE]
    assert _selected(_options(text, "preferred_clinic")) == ["cat-riga-clinic"]


def test_the_list_shows_only_the_clinics_offering_the_treatment_asked_for(client, catalogue):
    text = client.get(f"/requests/new?treatment={CATALOGUE_VALVE}", headers=ENGLISH).get_data(as_text=True)
    options = _options(text, "preferred_clinic")
    assert _shown(options) == {"", "cat-riga-clinic", "cat-valve-only"}
    hidden = options["cat-generated-00"]
    assert "hidden" in hidden and "disabled" in hidden
    # Every clinic carries its treatments for the script that narrows the list in the browser.
    assert f'data-treatments="{CATALOGUE_KNEE} {CATALOGUE_VALVE}"' in options["cat-riga-clinic"]
    assert f'data-treatments="{CATALOGUE_KNEE}"' in options["cat-generated-00"]
    assert 'src="/static/js/clinic-choice.js"' in text


def test_without_a_treatment_every_accepting_clinic_is_listed_and_no_paused_one(client, catalogue):
    text = client.get("/requests/new", headers=ENGLISH).get_data(as_text=True)
    options = _options(text, "preferred_clinic")
    assert {"cat-riga-clinic", "cat-valve-only", "cat-generated-00"} <= _shown(options)
    assert CATALOGUE_PAUSED not in options
    assert "Daugava Catalogue Clinic — Riga" in text


def test_a_re_rendered_form_keeps_the_list_narrowed_to_its_treatment(client, catalogue):
    page = _post(client, treatment=CATALOGUE_VALVE, email="not-an-address", language="en")
    assert page.status_code == 422
    shown = _shown(_options(page.get_data(as_text=True), "preferred_clinic"))
    assert shown == {"", "cat-riga-clinic", "cat-valve-only"}


def test_a_mismatch_is_refused_naming_the_clinic_and_the_treatment(client, catalogue):
    page = _post(client, treatment=CATALOGUE_VALVE, preferred_clinic="cat-generated-00", language="en")
    assert page.status_code == 422
    text = html.unescape(page.get_data(as_text=True))
    assert "Catalogue Generated 00 does not offer Catalogue valve replacement" in text
    # The clinic the patient picked stays visible and selected beside its error.
    options = _options(page.get_data(as_text=True), "preferred_clinic")
    assert "cat-generated-00" in _shown(options) and _selected(options) == ["cat-generated-00"]


def test_the_mismatch_in_russian_names_the_treatment_in_russian(client, catalogue):
    page = _post(client, treatment=CATALOGUE_VALVE, preferred_clinic="cat-generated-00", language="ru")
    assert page.status_code == 422
    text = html.unescape(page.get_data(as_text=True))
    assert "Catalogue Generated 00 не предлагает «Каталожная замена клапана»" in text
