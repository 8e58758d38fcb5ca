"""The demo catalogue: its coverage, idempotent loading, and refusals of bad data."""
from __future__ import annotations

import copy
import json

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
