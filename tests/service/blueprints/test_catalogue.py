"""The public catalogue's pages: /clinics (filters as links, pages of twelve, empty and
unknown states), /clinics/<slug> (prices, answer figures, "Request treatment here"),
/treatments and /treatments/<slug>; paused clinics nowhere, nothing internal, English
and Russian, and the catalogue linked from the landing page and the header."""
from __future__ import annotations

import html
import re

import pytest

from service import i18n
from service.extensions import db
from service.routing import fx
from tests.fixtures.catalogues import CATALOGUE_KNEE, CATALOGUE_PAUSED, CATALOGUE_VALVE, load_catalogue_data
from tests.fixtures.exchange_rates import in_currency, load_exchange_rates
from tests.fixtures.statements import recorded_statements, touching

ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def catalogue(app_ctx) -> dict:
    return load_catalogue_data()


def _get(client, url: str, status: int = 200, **headers: str) -> str:
    page = client.get(url, headers={**ENGLISH, **headers})
    assert page.status_code == status, url
    return html.unescape(page.get_data(as_text=True))


def _plain(text: str) -> str:
    """The page's words without its tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))


def _clinic_names(text: str) -> list[str]:
    return re.findall(r'<article class="clinic-card"[^>]*>\s*<h\d id="clinic-[^"]+"><a [^>]*>([^<]+)</a>', text)


def test_the_treatment_filter_is_a_link_listing_only_its_clinics_twelve_a_page(client, catalogue):
    first = _get(client, f"/clinics?treatment={CATALOGUE_KNEE}")
    assert len(_clinic_names(first)) == 12
    assert "Valve Only Catalogue Hospital" not in first and "Paused Catalogue Clinic" not in first
    assert "14 clinics offer Catalogue knee replacement" in first and "page 1 of 2" in first
    assert f'href="/clinics?treatment={CATALOGUE_KNEE}&page=2&currency=EUR" rel="next"' in first
    second = _get(client, f"/clinics?treatment={CATALOGUE_KNEE}&page=2")
    assert len(_clinic_names(second)) == 2 and 'aria-current="page">2<' in second
    assert "Daugava Catalogue Clinic" in _clinic_names(first) + _clinic_names(second)
    # The filter form is a GET form whose choices include the treatment, selected.
    assert '<form method="get" action="/clinics"' in first
    assert f'<option value="{CATALOGUE_KNEE}" selected>Catalogue knee replacement</option>' in first


def test_filters_combine(client, catalogue):
    text = _get(client, f"/clinics?treatment={CATALOGUE_KNEE}&country=LV&accreditation=CATACC&language=ru")
    assert _clinic_names(text) == ["Daugava Catalogue Clinic"]
    assert "1 clinic offers Catalogue knee replacement" in text


def test_an_unknown_treatment_is_named_and_no_match_is_an_empty_state(client, catalogue):
    unknown = _get(client, "/clinics?treatment=teleportation")
    assert "We have no treatment called “teleportation”." in unknown and _clinic_names(unknown) == []
    empty = _get(client, f"/clinics?treatment={CATALOGUE_VALVE}&country=EE")
    assert "No clinic matches all of these filters." in empty and _clinic_names(empty) == []
    assert "Clear filters" in empty
    assert "No clinic matches" in _get(client, "/clinics?country=ZZ&language=xx&page=-3")


def test_a_paused_clinic_is_hidden_everywhere(client, catalogue):
    _get(client, f"/clinics/{CATALOGUE_PAUSED}", 404)
    _get(client, "/clinics/no-such-clinic", 404)
    for url in ("/clinics?country=LV", f"/treatments/{CATALOGUE_KNEE}", "/treatments", "/clinics?page=1"):
        assert "Paused Catalogue Clinic" not in _get(client, url), url


def test_a_clinic_page_shows_where_what_and_how_it_answers_never_internals(client, catalogue):
    text = _get(client, "/clinics/cat-riga-clinic")
    assert "<h1>Daugava Catalogue Clinic</h1>" in text and "Riga, Latvia" in text
    assert "A joint clinic on the Daugava." in text
    assert "CATACC" in text and "English, Latvian, Russian" in text
    assert "Usually answers within 18 hours" in text and "Accepts 82% of requests" in text
    assert "from 6,100.00 EUR" in text and "from 21,000.00 EUR" in text
    for secret in ("referrals@cat-riga.example", "37", "capacity", "score"):
        assert secret not in text, secret
    unknown = _get(client, "/clinics/cat-valve-only")
    assert "Usually answers" not in unknown and "Accepts" not in unknown


def test_request_treatment_here_opens_the_form_with_both_filled_in(client, catalogue):
    text = _get(client, "/clinics/cat-riga-clinic")
    for treatment in (CATALOGUE_KNEE, CATALOGUE_VALVE):
        assert f'href="/requests/new?treatment={treatment}&clinic=cat-riga-clinic"' in text
    assert text.count("Request treatment here") == 2


def test_prices_in_the_patients_currency_beside_the_original(client, catalogue):
    # Without an exchange-rate table there is no other currency to offer.
    assert "Show prices in" not in _get(client, "/clinics/cat-riga-clinic?currency=USD")
    load_exchange_rates()
    text = _get(client, "/clinics/cat-riga-clinic?currency=usd")
    usd = fx.display_amount(in_currency("6100", "EUR", "USD"))
    assert f"from 6,100.00 EUR (about {usd:,.2f} USD)" in _plain(text)
    assert '<option value="USD" selected>' in text
    listing = _get(client, f"/clinics?treatment={CATALOGUE_VALVE}&currency=GBP")
    gbp = fx.display_amount(in_currency("480000", "CZK", "GBP"))
    assert f"from 480,000.00 CZK (about {gbp:,.2f} GBP)" in _plain(listing)
    assert "(about" not in _get(client, "/clinics/cat-riga-clinic")  # EUR prices, EUR wanted


def test_the_treatments_page_counts_clinics_and_links_their_filtered_list(client, catalogue):
    text = _get(client, "/treatments")
    assert f'<a href="/treatments/{CATALOGUE_KNEE}?currency=EUR">Catalogue knee replacement</a>' in text
    assert f'<a href="/clinics?treatment={CATALOGUE_KNEE}&currency=EUR">14 clinics</a>' in text
    latvia = _get(client, "/treatments?country=LV")
    assert f'<a href="/clinics?treatment={CATALOGUE_KNEE}&country=LV&currency=EUR">1 clinic</a>' in latvia


def test_a_treatment_page_says_what_it_is_the_stay_the_files_and_who_offers_it(client, catalogue):
    text = _get(client, f"/treatments/{CATALOGUE_KNEE}")
    assert "<h1>Catalogue knee replacement</h1>" in text and "The worn knee joint is replaced." in text
    assert "About 7 days" in text and "Standing knee X-rays from the last six months." in text
    assert f'href="/clinics?treatment={CATALOGUE_KNEE}&currency=EUR"' in text
    assert f'href="/requests/new?treatment={CATALOGUE_KNEE}"' in text
    assert len(_clinic_names(text)) == 14
    without = _get(client, f"/treatments/{CATALOGUE_VALVE}")
    assert "The clinic tells you in its quote." in without
    _get(client, "/treatments/no-such-treatment", 404)


def test_russian_pages_name_everything_in_russian(client, catalogue):
    clinic = _get(client, "/clinics/cat-riga-clinic?lang=ru")
    assert re.search(r'<html lang="ru"[ >]', clinic)
    for said in ("Рига, Латвия", "Клиника суставов на Даугаве.", "Английский, Латышский, Русский",
                 "Обычно отвечает в течение 18 часов", "Принимает 82 % заявок", "Каталожная замена клапана",
                 "Оставить заявку в этой клинике", "от 6\u00a0100,00\u00a0EUR"):
        assert said in clinic, said
    listing = _get(client, f"/clinics?treatment={CATALOGUE_KNEE}&lang=ru")
    assert "14 клиник предлагают «Каталожное эндопротезирование колена»" in listing
    assert '<option value="EE">Эстония</option>' in listing
    treatment = _get(client, f"/treatments/{CATALOGUE_KNEE}?lang=ru")
    assert "Около 7 дней" in treatment and "Рентген колена стоя за последние полгода." in treatment
    assert "Изношенный коленный сустав заменяют." in treatment


def test_the_catalogue_is_linked_from_the_landing_page_and_the_header(client):
    text = _get(client, "/")
    header = text[text.index('<header'):text.index('</header>')]
    assert 'href="/clinics"' in header and 'href="/treatments"' in header
    main = text[text.index("<main"):]
    assert 'href="/treatments"' in main and 'href="/clinics"' in main


def test_the_pages_switch_language_and_keep_their_filters(client, catalogue):
    text = _get(client, f"/clinics?treatment={CATALOGUE_KNEE}")
    assert f'href="/clinics?treatment={CATALOGUE_KNEE}&lang=ru"' in text
    assert i18n.current_language() == "en"


@pytest.mark.parametrize("path", [
    "/clinics", "/clinics/cat-riga-clinic", "/treatments", f"/treatments/{CATALOGUE_KNEE}",
])
def test_a_catalogue_page_costs_the_token_and_the_rate_table_only(client, catalogue, path):
    client.get(path, headers=ENGLISH)  # the catalogue read once, into the process's copy
    with recorded_statements(db.engine) as sent:
        assert client.get(path, headers=ENGLISH).status_code == 200
    assert touching(sent, "clinics") == [] and touching(sent, "treatments") == []
    assert len(touching(sent, "catalog_version")) == 1 and len(touching(sent, "exchange_rates")) == 1
    assert len(sent) == 2, sent
