"""The demo catalogue: its coverage, idempotent loading, and refusals of bad data."""
from __future__ import annotations

import copy
import json
import re

import pytest
from sqlalchemy import func, select

from service.catalog.loader import CATEGORIES, CatalogError, load_catalog
from service.extensions import db
from service.models import Clinic, ClinicTreatment, Treatment
from tests.conftest import CATALOG


@pytest.fixture(scope="module")
def catalog() -> dict:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


def _counts() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count(Treatment.id))),
        db.session.scalar(select(func.count(Clinic.id))),
        db.session.scalar(select(func.count(ClinicTreatment.id))),
    )


def test_demo_catalogue_covers_what_the_agency_sells(catalog):
    assert len(catalog["clinics"]) >= 12
    assert len({c["country"] for c in catalog["clinics"]}) >= 5
    assert len(catalog["treatments"]) >= 15
    assert {t["category"] for t in catalog["treatments"]} == set(CATEGORIES)
    assert any("osseointegrated" in t["slug"] for t in catalog["treatments"])
    offered = [offer["slug"] for clinic in catalog["clinics"] for offer in clinic["treatments"]]
    assert all(offered.count(t["slug"]) >= 2 for t in catalog["treatments"]), "every treatment needs a choice"
    for clinic in catalog["clinics"]:
        assert clinic["languages"] and clinic["capacity"] > 0
        assert clinic["email"].endswith(".example")
        assert all(offer["price_from"] and offer["currency"] for offer in clinic["treatments"])


def test_loading_twice_changes_nothing(app_ctx, catalog):
    before = _counts()
    report = load_catalog(catalog)
    assert report.created == 0 and report.updated == 0
    assert report.unchanged == len(catalog["treatments"]) + len(catalog["clinics"])
    assert _counts() == before


def test_changed_entries_are_updated_in_place(app_ctx, catalog):
    changed = copy.deepcopy(catalog)
    changed["clinics"][0]["capacity"] += 5
    changed["clinics"][0]["treatments"] = changed["clinics"][0]["treatments"][:1]
    before_clinics = _counts()[1]
    report = load_catalog(changed)
    assert report.updated == 1 and report.created == 0
    clinic = db.session.scalars(select(Clinic).where(Clinic.slug == changed["clinics"][0]["slug"])).one()
    assert clinic.capacity == catalog["clinics"][0]["capacity"] + 5
    assert len(clinic.offers) == 1
    assert _counts()[1] == before_clinics


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["treatments"][0].update(category="magic"), "category 'magic' is not one of"),
        (lambda d: d["treatments"][0].update(slug="Bad Slug"), "must be lowercase letters"),
        (lambda d: d["clinics"][0].update(country="ZZ"), "country 'ZZ' is not an ISO 3166-1"),
        (lambda d: d["clinics"][0].update(languages=["xx"]), "language 'xx' is not an ISO 639-1"),
        (lambda d: d["clinics"][0]["treatments"][0].update(currency="EURO"), "currency 'EURO' is not an ISO 4217"),
        (lambda d: d["clinics"][0]["treatments"][0].update(slug="nope"), "unknown treatment 'nope'"),
        (lambda d: d["clinics"][0].pop("email"), "missing 'email'"),
    ],
)
def test_bad_catalogue_data_is_refused_with_a_message(app_ctx, catalog, mutate, message):
    bad = copy.deepcopy(catalog)
    mutate(bad)
    with pytest.raises(CatalogError, match=message):
        load_catalog(bad)
    db.session.rollback()


def test_cli_load_is_idempotent(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["catalog", "load", str(CATALOG)])
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated" in result.output


# ---------------------------------------------------------------- texts in each language


def test_every_demo_entry_has_its_texts_in_english_and_russian(catalog):
    for entry in catalog["treatments"]:
        for field in ("name", "description", "helpful_files"):
            texts = entry[field]
            assert set(texts) == {"en", "ru"} and all(t.strip() for t in texts.values()), (entry["slug"], field)
            assert re.search("[а-яё]", texts["ru"], re.I) and not re.search("[а-яё]", texts["en"], re.I)
        assert isinstance(entry["stay_days"], int) and 1 <= entry["stay_days"] <= 60, entry["slug"]
    for clinic in catalog["clinics"]:
        for field in ("city", "description"):
            assert set(clinic[field]) == {"en", "ru"} and all(clinic[field].values()), (clinic["slug"], field)
        # Two sentences, and no accreditation the entry does not list.
        assert clinic["description"]["en"].count(". ") == 1 and clinic["description"]["en"].endswith(".")
        listed = set(clinic["accreditations"])
        for body in ("JCI", "DNV", "NABH", "ACHSI", "TEMOS", "ISO 9001"):
            if body not in listed:
                assert body not in clinic["description"]["en"] and body not in clinic["description"]["ru"]


def test_the_loaded_texts_are_read_in_each_language(app_ctx, catalog):
    knee = db.session.scalars(select(Treatment).where(Treatment.slug == "knee-replacement")).one()
    assert knee.text("name", "en") == "Total knee replacement"
    assert knee.text("name", "ru") == "Эндопротезирование коленного сустава"
    assert knee.text("helpful_files", "ru").startswith("Свежие рентгеновские снимки колена")
    assert knee.text("name", "de") == "Total knee replacement"  # no German: English
    assert knee.stay_days == 14
    valencia = db.session.scalars(select(Clinic).where(Clinic.slug == "costa-salud-valencia")).one()
    assert (valencia.city, valencia.text("city", "ru")) == ("Valencia", "Валенсия")
    assert valencia.place("ru") == "Валенсия, Испания" and valencia.place("en") == "Valencia, Spain"
    assert valencia.text("description", "ru").startswith("Многопрофильная больница")


def test_a_text_may_be_a_plain_string_or_an_object_and_loading_it_again_changes_nothing(app_ctx, catalog):
    changed = copy.deepcopy(catalog)
    changed["treatments"][0]["name"] = "Knee replacement"          # English only
    changed["clinics"][0]["city"] = {"en": "Istanbul", "ru": "Стамбул", "de": "Istanbul"}
    assert load_catalog(changed).updated == 2
    assert load_catalog(changed).updated == 0
    treatment = db.session.scalars(select(Treatment).where(Treatment.slug == changed["treatments"][0]["slug"])).one()
    assert treatment.text("name", "ru") == "Knee replacement"      # the Russian name went with the object
    assert treatment.text("description", "ru") == catalog["treatments"][0]["description"]["ru"]
    clinic = db.session.scalars(select(Clinic).where(Clinic.slug == changed["clinics"][0]["slug"])).one()
    assert clinic.translations["de"] == {"city": "Istanbul"}
    load_catalog(catalog)
    db.session.commit()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["treatments"][0].update(name={"ru": "Колено"}), r"name has no English \('en'\) text"),
        (lambda d: d["treatments"][0].update(description={"en": "x", "russian": "y"}),
         "description has language 'russian', not an ISO 639-1 code"),
        (lambda d: d["treatments"][0].update(helpful_files={"en": "x", "xx": "y"}),
         "helpful_files has language 'xx', not an ISO 639-1 code"),
        (lambda d: d["clinics"][0].update(city={"en": "Istanbul", "ru": 5}), "city in 'ru' must be text"),
        (lambda d: d["clinics"][0].update(description=["Istanbul"]), "description must be text or an object"),
        (lambda d: d["treatments"][0].update(stay_days="two weeks"), "stay_days must be a whole number"),
        (lambda d: d["clinics"][0].pop("city"), "missing 'city'"),
    ],
)
def test_bad_texts_are_refused_naming_the_field(app_ctx, catalog, mutate, message):
    bad = copy.deepcopy(catalog)
    mutate(bad)
    with pytest.raises(CatalogError, match=message):
        load_catalog(bad)
    db.session.rollback()
