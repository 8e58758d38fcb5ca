"""Indicative exchange rates to EUR, used ONLY to compare a patient's budget with a
clinic's indicative "from" price when the two are in different currencies.

These are rounded, hand-maintained mid-market rates (mid-2025), not quotes: nothing
is ever charged, converted or shown to a patient as an amount with them. A rate that
is off by a few percent moves a budget score by a point or two at most (see
`weights.BUDGET_OVER_PER_PERCENT`). A currency missing from the table is not an error:
the budget comparison is simply skipped for that clinic.

Update the table when a rate drifts by more than about 10 %; add a currency when the
catalogue or the request form starts using it.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Final

#: EUR per one unit of the currency (ISO 4217), indicative, mid-2025, rounded.
RATES_TO_EUR: Final[dict[str, Decimal]] = {
    "EUR": Decimal("1"),
    "USD": Decimal("0.87"),
    "GBP": Decimal("1.17"),
    "CHF": Decimal("1.07"),
    "PLN": Decimal("0.235"),
    "CZK": Decimal("0.040"),
    "TRY": Decimal("0.022"),
    "ILS": Decimal("0.25"),
    "AED": Decimal("0.237"),
    "RUB": Decimal("0.011"),
    "KZT": Decimal("0.0017"),
    "INR": Decimal("0.010"),
    "THB": Decimal("0.027"),
    "KRW": Decimal("0.00063"),
    "MXN": Decimal("0.046"),
}


def rate_to_eur(currency: str | None) -> Decimal | None:
    """EUR per unit of `currency`, or None when the currency has no indicative rate."""
    if not currency:
        return None
    return RATES_TO_EUR.get(currency.strip().upper())


def to_eur(amount: Decimal, currency: str | None) -> Decimal | None:
    """`amount` in EUR at the indicative rate, or None when the currency is unknown."""
    rate = rate_to_eur(currency)
    return None if rate is None else amount * rate
