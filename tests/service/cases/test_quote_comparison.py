"""Quotes compared in the patient's currency: the order of `quotes.compared` is the
order of the converted prices (rates from data/exchange_rates.json, loaded into the
database), a quote without a rate last and saying so, expired quotes after all; and the
stored comparison PDF (read back with pypdf) lists them in the same order."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from service.cases import paperwork_store, quotes
from service.extensions import db
from service.paperwork.wording import format_date, format_whole_money
from service.routing import fx
from tests.fixtures.exchange_rates import in_currency, load_exchange_rates
from tests.fixtures.quoting import HIDDEN_CASE, QuotedInCurrencies, today
from tests.service.paperwork.pdfs import flat, page_texts


@pytest.fixture
def exchange_rates(app_ctx) -> fx.Rates:
    """The data file's rates, loaded into the test database."""
    return load_exchange_rates()


def plain(price: Decimal) -> str:
    return f"{price.normalize():f}"


def expected_order(prices, currency: str) -> list[tuple[str, str]]:
    """The quotes cheapest first in `currency`, computed from the data file's rates."""
    return sorted(prices, key=lambda p: in_currency(p[0], p[1], currency))


@pytest.mark.parametrize("budget_currency", ["USD", "EUR"])
def test_the_hidden_case_is_ordered_by_the_converted_price(app_ctx, exchange_rates, budget_currency):
    quoted = QuotedInCurrencies(budget=Decimal("9000"), budget_currency=budget_currency)
    compared = quotes.compared(quoted.case)
    assert compared.currency == budget_currency
    shown = [(plain(r.quote.price), r.quote.currency) for r in compared.rows]
    assert shown == expected_order(HIDDEN_CASE, budget_currency)
    # Without conversion (by currency, then the number) the order would be another one.
    assert shown != sorted(HIDDEN_CASE, key=lambda p: (p[1], Decimal(p[0])))
    assert [q for _, q in quotes.comparison(quoted.case)] == [r.quote for r in compared.rows]
    for row in compared.rows:
        assert row.converted == fx.convert(row.quote.price, row.quote.currency, budget_currency, exchange_rates)
        assert row.converted.amount == in_currency(row.quote.price, row.quote.currency, budget_currency)


def test_a_case_without_a_budget_compares_in_euros(app_ctx, exchange_rates):
    quoted = QuotedInCurrencies()
    compared = quotes.compared(quoted.case)
    assert compared.currency == "EUR"
    assert [(plain(r.quote.price), r.quote.currency) for r in compared.rows] == expected_order(HIDDEN_CASE, "EUR")


def test_the_converted_price_is_said_with_the_rates_date(app_ctx, exchange_rates):
    quoted = QuotedInCurrencies(budget=Decimal("9000"), budget_currency="USD")
    compared = quotes.compared(quoted.case)
    eur = next(r for r in compared.rows if r.quote.currency == "EUR")
    usd = next(r for r in compared.rows if r.quote.currency == "USD")
    amount = in_currency("9450", "EUR", "USD")
    as_of = exchange_rates.get("USD").as_of
    assert quotes.converted_text(eur, "USD") == (
        f"≈ {amount.quantize(Decimal('1')):,} USD at the rate of {as_of.day} {as_of:%B %Y}"
    )
    assert quotes.converted_text(usd, "USD") == ""  # already in the patient's currency


def test_without_rates_every_foreign_quote_sorts_last_and_says_the_rate_is_missing(app_ctx):
    quoted = QuotedInCurrencies(budget=Decimal("9000"), budget_currency="USD")
    compared = quotes.compared(quoted.case, rates=fx.NO_RATES)
    assert [r.quote.currency for r in compared.rows] == ["USD", "EUR", "INR"]  # USD converts to itself
    missing = [r for r in compared.rows if r.converted is None]
    assert [r.quote.currency for r in missing] == ["EUR", "INR"]
    assert quotes.converted_text(missing[0], "USD") == (
        "No exchange rate for EUR: this quote cannot be converted to USD and is listed last."
    )


def test_a_quote_in_a_currency_with_no_rate_sorts_after_those_that_convert(app_ctx, exchange_rates):
    assert "XOF" not in exchange_rates
    quoted = QuotedInCurrencies((("1", "XOF"), *HIDDEN_CASE), budget=Decimal("9000"), budget_currency="USD")
    compared = quotes.compared(quoted.case)
    assert compared.rows[-1].quote.currency == "XOF" and compared.rows[-1].converted is None
    assert [r.quote.currency for r in compared.rows[:-1]] == [c for _, c in expected_order(HIDDEN_CASE, "USD")]


def test_an_expired_quote_sorts_last_even_when_cheapest(app_ctx, exchange_rates):
    quoted = QuotedInCurrencies(budget=Decimal("9000"), budget_currency="USD")
    cheapest = quotes.compared(quoted.case).rows[0].quote
    cheapest.valid_until = today() + timedelta(days=1)
    db.session.flush()
    assert quotes.compared(quoted.case, today()).rows[0].quote is cheapest
    assert quotes.compared(quoted.case, today() + timedelta(days=2)).rows[-1].quote is cheapest


@pytest.mark.parametrize(("language", "budget_currency"), [("en", "USD"), ("ru", "USD"), ("en", "EUR")])
def test_the_stored_comparison_pdf_lists_the_quotes_in_the_converted_order(
    app_ctx, exchange_rates, storage, language, budget_currency,
):
    quoted = QuotedInCurrencies(budget=Decimal("9000"), budget_currency=budget_currency, language=language)
    document = paperwork_store.store_quote_comparison(quoted.case, storage).document
    with storage.open(document.storage_key) as stream:
        text = flat(" ".join(page_texts(stream.read())))
    by_currency = {q.currency: q for q in quoted.quotes}
    names = [by_currency[c].referral.clinic.name for _, c in expected_order(HIDDEN_CASE, budget_currency)]
    positions = [text.index(name) for name in names]
    assert positions == sorted(positions), (names, text)
    as_of = format_date(exchange_rates.get("INR").as_of, language)
    inr = format_whole_money(in_currency("410000", "INR", budget_currency), budget_currency, language)
    said = "по курсу на" if language == "ru" else "at the rate of"
    assert flat(f"≈ {inr} {said} {as_of}".replace("\u00a0", " ")) in text.replace("\u00a0", " ")
