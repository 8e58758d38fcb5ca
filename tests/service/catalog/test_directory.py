"""The public catalogue's read model: filters that combine, pages of twelve, paused
clinics nowhere, texts in the page's language, prices in the patient's currency, and
nothing internal (capacity, e-mail, referrals, scores) in what the pages receive."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from service import i18n
from service.catalog import directory, snapshot
from tests.fixtures.catalogues import (
    CATALOGUE_KNEE,
    CATALOGUE_PAGED,
    CATALOGUE_PAUSED,
    CATALOGUE_VALVE,
    load_catalogue_data,
)


@pytest.fixture
def catalog(app_ctx) -> snapshot.Catalog:
    load_catalogue_data()
    return snapshot.current()


def _filters(**args: str) -> directory.Filters:
    return directory.Filters.from_args(args, default_currency="EUR")


def _slugs(listing: directory.ClinicList) -> list[str]:
    return [clinic.slug for clinic in listing.clinics]


def test_the_treatment_filter_lists_only_clinics_that_offer_it_and_never_a_paused_one(catalog):
    first = directory.clinic_list(catalog, _filters(treatment=CATALOGUE_KNEE))
    second = directory.clinic_list(catalog, _filters(treatment=CATALOGUE_KNEE, page="2"))
    listed = _slugs(first) + _slugs(second)
    assert first.total == CATALOGUE_PAGED and len(listed) == CATALOGUE_PAGED
    assert "cat-riga-clinic" in listed and "cat-valve-only" not in listed
    assert CATALOGUE_PAUSED not in listed
    assert first.treatment is not None and first.treatment.slug == CATALOGUE_KNEE


def test_filters_combine_and_codes_may_be_in_any_case(catalog):
    listing = directory.clinic_list(
        catalog, _filters(treatment=CATALOGUE_KNEE, country="lv", accreditation="catacc", language="RU")
    )
    assert _slugs(listing) == ["cat-riga-clinic"]
    assert directory.clinic_list(catalog, _filters(treatment=CATALOGUE_VALVE, country="EE")).total == 0
    only_estonian = directory.clinic_list(catalog, _filters(treatment=CATALOGUE_KNEE, language="et"))
    assert only_estonian.total == CATALOGUE_PAGED - 1


def test_an_unknown_treatment_is_said_not_listed_as_everything(catalog):
    listing = directory.clinic_list(catalog, _filters(treatment="no-such-treatment"))
    assert listing.unknown_treatment and listing.clinics == () and listing.total == 0


def test_twelve_clinics_a_page_and_a_page_past_the_last_shows_the_last(catalog):
    first = directory.clinic_list(catalog, _filters(treatment=CATALOGUE_KNEE))
    assert len(first.clinics) == directory.PAGE_SIZE and (first.page, first.pages) == (1, 2)
    beyond = directory.clinic_list(catalog, _filters(treatment=CATALOGUE_KNEE, page="9"))
    assert beyond.page == 2 and len(beyond.clinics) == CATALOGUE_PAGED - directory.PAGE_SIZE
    assert directory.clinic_list(catalog, _filters(treatment=CATALOGUE_KNEE, page="x")).page == 1
    assert beyond.filters.args() == {"treatment": CATALOGUE_KNEE, "page": 2, "currency": "EUR"}
    assert beyond.filters.args(page=1) == {"treatment": CATALOGUE_KNEE, "currency": "EUR"}


def test_a_paused_clinic_has_no_page_and_is_in_no_option_or_count(catalog):
    assert directory.clinic_page(catalog, CATALOGUE_PAUSED, "EUR") is None
    assert directory.clinic_page(catalog, "no-such-clinic", "EUR") is None
    page = directory.treatment_page(catalog, CATALOGUE_KNEE, "EUR")
    assert page is not None and CATALOGUE_PAUSED not in [c.slug for c in page.clinics]
    assert len(page.clinics) == CATALOGUE_PAGED
    paused_only = dataclasses.replace(
        catalog, clinics=tuple(c for c in catalog.clinics if c.slug == CATALOGUE_PAUSED)
    )
    options = directory.filter_options(paused_only)
    assert options.countries == () and options.accreditations == () and options.treatments == ()


def test_treatments_count_the_clinics_shown_narrowed_by_country(catalog):
    def summary(listing: directory.TreatmentList, slug: str) -> directory.TreatmentSummary:
        return next(s for _, items in listing.categories for s in items if s.treatment.slug == slug)

    everywhere = directory.treatment_list(catalog, _filters())
    assert summary(everywhere, CATALOGUE_KNEE).clinics == CATALOGUE_PAGED
    assert summary(everywhere, CATALOGUE_KNEE).lowest == directory.Price(Decimal("6100.00"), "EUR")
    # One clinic quotes the valve in EUR, the other in CZK: no "lowest" across currencies.
    assert summary(everywhere, CATALOGUE_VALVE).clinics == 2 and summary(everywhere, CATALOGUE_VALVE).lowest is None
    latvia = directory.treatment_list(catalog, _filters(country="LV"))
    assert summary(latvia, CATALOGUE_KNEE).clinics == 1 and summary(latvia, CATALOGUE_VALVE).clinics == 1


def test_texts_and_names_are_in_the_page_language(catalog):
    i18n.use_language("ru")
    clinic = directory.clinic_page(catalog, "cat-riga-clinic", "EUR")
    assert clinic is not None
    assert clinic.place == "Рига, Латвия"
    assert clinic.description == "Клиника суставов на Даугаве."
    assert clinic.country == directory.Named("LV", "Латвия")
    assert [lang.name for lang in clinic.languages] == ["Английский", "Латышский", "Русский"]
    assert [line.treatment.text("name") for line in clinic.offers] == [
        "Каталожная замена клапана", "Каталожное эндопротезирование колена",
    ]
    options = directory.clinic_list(catalog, _filters()).options
    assert directory.Named(CATALOGUE_KNEE, "Каталожное эндопротезирование колена") in options.treatments
    assert directory.Named("EE", "Эстония") in options.countries


def test_english_when_a_text_has_no_translation(catalog):
    i18n.use_language("ru")
    clinic = directory.clinic_page(catalog, "cat-valve-only", "EUR")
    assert clinic is not None and clinic.place.startswith("Brno, ")


def test_prices_in_the_patients_currency_beside_the_original(catalog):
    calls: list[tuple[Decimal, str]] = []

    def convert(amount: Decimal, currency: str) -> Decimal | None:
        calls.append((amount, currency))
        return None if currency == "CZK" else amount * 2

    riga = directory.clinic_page(catalog, "cat-riga-clinic", "USD", convert)
    assert riga is not None
    knee = riga.offer(CATALOGUE_KNEE)
    assert knee is not None and knee.price == directory.Price(Decimal("6100.00"), "EUR", Decimal("12200.00"), "USD")
    brno = directory.clinic_page(catalog, "cat-valve-only", "USD", convert)
    assert brno is not None and brno.offers[0].price.converted is None  # no rate: the original only
    calls.clear()
    same = directory.clinic_page(catalog, "cat-riga-clinic", "EUR", convert)
    assert same is not None and all(line.price.converted is None for line in same.offers) and calls == []


def test_answer_time_and_acceptance_as_routing_has_them_and_none_when_unknown(catalog):
    riga = directory.clinic_page(catalog, "cat-riga-clinic", "EUR")
    brno = directory.clinic_page(catalog, "cat-valve-only", "EUR")
    assert riga is not None and (riga.response_hours, riga.acceptance_percent) == (18, 82)
    assert brno is not None and (brno.response_hours, brno.acceptance_percent) == (None, None)


def test_nothing_internal_reaches_the_pages():
    fields = {f.name for f in dataclasses.fields(directory.ClinicCard)}
    assert fields.isdisjoint({"capacity", "email", "accepting", "open_referrals", "score", "website", "address"})


def test_an_unknown_currency_falls_back_to_the_default():
    assert _filters(currency="usd").currency == "USD"
    assert _filters(currency="XYZ").currency == "EUR"
    assert _filters().currency == "EUR"
