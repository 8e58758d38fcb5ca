"""The request form on its own: normalisation and the rules the pages rely on."""
from __future__ import annotations

from werkzeug.datastructures import MultiDict

from forms import RequestForm
from service.catalog import snapshot
from tests.fixtures.forms import valid_request


def _form(app, **overrides) -> RequestForm:
    return RequestForm(
        formdata=MultiDict(valid_request(**overrides)),
        catalog=snapshot.current(),
        meta={"csrf": False},
    )


def test_phone_is_stored_in_e164_and_local_numbers_use_the_country(app_ctx):
    form = _form(app_ctx, phone="030 1234567", country="DE")
    assert form.validate(), form.errors
    assert form.phone.data == "+49301234567"


def test_budget_without_currency_is_refused_but_currency_alone_is_ignored(app_ctx):
    form = _form(app_ctx, budget="5000", budget_currency="")
    assert not form.validate()
    assert form.errors["budget_currency"] == ["Select the currency of your budget."]
    alone = _form(app_ctx, budget="", budget_currency="USD")
    assert alone.validate(), alone.errors
    assert alone.request_data().budget is None
    assert alone.request_data().budget_currency is None


def test_request_data_carries_catalogue_objects(app_ctx):
    form = _form(app_ctx)
    assert form.validate(), form.errors
    data = form.request_data()
    assert data.treatment.slug == valid_request()["treatment"]
    assert data.preferred_clinic is None
    assert data.medications == "none known" and data.allergies is None


def test_a_budget_that_is_no_number_is_refused_with_the_range(app_ctx):
    for written in ("NaN", "sNaN", "-Infinity", "Infinity"):
        form = _form(app_ctx, budget=written, budget_currency="EUR")
        assert not form.validate()
        assert form.errors["budget"] == ["Enter an amount between 1 and 10,000,000."], written
