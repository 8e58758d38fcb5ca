"""The status page compares the quotes in the patient's currency: each card shows its
own price and the converted one with the rate's date, cheapest converted first, a
currency without a rate last with a word that its rate is missing; in English and Russian."""
from __future__ import annotations

from decimal import Decimal
from html import escape

import pytest

from service.cases.tokens import new_token
from service.paperwork.wording import format_date, format_whole_money
from service.routing import fx
from tests.fixtures.exchange_rates import in_currency, load_exchange_rates
from tests.fixtures.quoting import HIDDEN_CASE, QuotedInCurrencies


@pytest.fixture
def exchange_rates(app_ctx) -> fx.Rates:
    """The data file's rates, loaded into the test database."""
    return load_exchange_rates()


def page_of(client, language: str, budget_currency: str, prices=HIDDEN_CASE) -> tuple[QuotedInCurrencies, str]:
    token, digest = new_token()
    quoted = QuotedInCurrencies(prices, budget=Decimal("9000"), budget_currency=budget_currency,
                                language=language, token_hash=digest)
    quoted.token = token  # type: ignore[attr-defined]
    page = client.get(f"/s/{token}")
    assert page.status_code == 200
    return quoted, page.text


def card_order(quoted: QuotedInCurrencies, text: str) -> list[str]:
    """The quotes' currencies in the order their cards appear."""
    heads = {q.currency: text.index(f'id="quote-{q.id}-clinic"') for q in quoted.quotes}
    return sorted(heads, key=heads.get)


@pytest.mark.parametrize(("language", "budget_currency", "said"), [
    ("en", "USD", "at the rate of"), ("en", "EUR", "at the rate of"), ("ru", "USD", "по курсу на"),
])
def test_the_cards_are_cheapest_first_in_the_patients_currency(
    client, exchange_rates, language, budget_currency, said,
):
    quoted, text = page_of(client, language, budget_currency)
    expected = sorted(HIDDEN_CASE, key=lambda p: in_currency(p[0], p[1], budget_currency))
    assert card_order(quoted, text) == [currency for _, currency in expected]
    as_of = format_date(exchange_rates.get("INR").as_of, language) if language == "ru" else \
        f"{exchange_rates.get('INR').as_of.day} {exchange_rates.get('INR').as_of:%B %Y}"
    for amount, currency in HIDDEN_CASE:
        converted = f"≈ {format_whole_money(in_currency(amount, currency, budget_currency), budget_currency, language)}"
        if currency == budget_currency:
            assert escape(f"{converted} {said}") not in text
        else:
            assert escape(f"{converted} {said} {as_of}") in text, currency


def test_a_quote_in_a_currency_without_a_rate_is_last_and_says_so(client, exchange_rates):
    quoted, text = page_of(client, "en", "USD", (("1", "XOF"), *HIDDEN_CASE))
    assert card_order(quoted, text)[-1] == "XOF"
    assert escape("No exchange rate for XOF: this quote cannot be converted to USD and is listed last.") in text


def test_the_confirmation_step_shows_the_converted_price_too(client, exchange_rates):
    quoted, _ = page_of(client, "en", "USD")
    eur = next(q for q in quoted.quotes if q.currency == "EUR")
    page = client.get(f"/s/{quoted.token}/quotes/{eur.id}/choose")
    assert page.status_code == 200
    assert escape(f"≈ {format_whole_money(in_currency('9450', 'EUR', 'USD'), 'USD')} at the rate of") in page.text
