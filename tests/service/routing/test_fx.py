"""The conversions on a plain rate table (no database): Decimal arithmetic through EUR,
the older rate's date, a missing rate as None, whole-unit display rounding."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.routing import fx
from tests.fixtures.exchange_rates import file_rates

OLD, NEW = date(2026, 11, 1), date(2026, 11, 30)
RATES = fx.Rates({
    "EUR": fx.Rate(Decimal("1"), NEW),
    "USD": fx.Rate(Decimal("0.8620"), NEW),
    "inr": fx.Rate(Decimal("0.009800"), OLD),
}, "test")


def test_convert_goes_through_euros_with_decimal_arithmetic():
    converted = fx.convert(Decimal("9450"), "EUR", "USD", RATES)
    assert converted == fx.Converted(Decimal("9450") / Decimal("0.8620"), "USD", NEW)
    assert isinstance(converted.amount, Decimal) and converted.converted
    inr = fx.convert(Decimal("410000"), "INR", "USD", RATES)
    assert inr.amount == Decimal("410000") * Decimal("0.009800") / Decimal("0.8620")


def test_the_rate_date_is_the_older_of_the_two_rates():
    assert fx.convert(Decimal("1"), "INR", "USD", RATES).rate_date == OLD
    assert fx.convert(Decimal("1"), "USD", "EUR", RATES).rate_date == NEW


def test_the_same_currency_converts_to_itself_without_a_rate():
    assert fx.convert(Decimal("6800"), "usd ", "USD", fx.NO_RATES) == fx.Converted(Decimal("6800"), "USD", None)


@pytest.mark.parametrize(("source", "target"), [("XOF", "USD"), ("USD", "XOF"), ("EUR", "")])
def test_a_currency_without_a_rate_converts_to_none(source, target):
    assert fx.convert(Decimal("100"), source, target, RATES) is None


def test_codes_are_matched_case_insensitively():
    assert "inr" in RATES and "INR" in RATES and "XOF" not in RATES
    assert fx.rate_to_eur(" Usd", RATES) == Decimal("0.8620")
    assert fx.to_eur(Decimal("100"), "USD", RATES) == Decimal("86.2000")
    assert fx.to_eur(Decimal("100"), None, RATES) is None


def test_display_rounds_half_up_to_whole_units_only_for_display():
    assert fx.display_amount(Decimal("10212.5")) == Decimal("10213")
    assert fx.display_amount(Decimal("10212.49")) == Decimal("10212")


def test_the_data_file_covers_every_currency_the_catalogue_and_the_demo_budgets_use():
    import json

    from service.demo.texts import BUDGETS
    from tests.conftest import CATALOG

    catalog = json.loads(CATALOG.read_text(encoding="utf-8"))
    used = {offer["currency"] for clinic in catalog["clinics"] for offer in clinic["treatments"]}
    used |= {currency for _, currency in BUDGETS if currency}
    rates = file_rates()
    assert used - set(rates.table) == set()
    assert rates.get("EUR").eur_per_unit == 1 and rates.source


def test_rates_are_hashable_and_compare_by_value():
    same = fx.Rates(dict(RATES.table), "test")
    assert same == RATES and hash(same) == hash(RATES)
