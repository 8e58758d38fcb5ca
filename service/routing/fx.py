"""Indicative exchange rates and the conversions made with them: plain functions over a
plain table, no database here.

The table itself lives in the database (`service.models.ExchangeRate`, loaded from
data/exchange_rates.json by `flask fx load`, read once per routing call or page by
`service.routing.facts.exchange_rates`): one place for each rate, with its date.

Two uses, both indicative (nothing is ever charged with these rates):
* routing compares a patient's budget with a clinic's "from" price in another currency
  (a rate off by a few percent moves a budget score by a point or two at most, see
  `weights.BUDGET_OVER_PER_PERCENT`);
* the patient compares quotes in different currencies, each converted into their
  budget's currency with the rate's date shown beside it.

A currency missing from the table is not an error: the budget comparison is skipped
for that clinic, and a quote in it sorts last, saying that the rate is missing.
Arithmetic is Decimal throughout; amounts are rounded only for display.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Final

#: The currency quotes are compared in when the patient gave no budget currency.
DEFAULT_CURRENCY: Final = "EUR"


@dataclass(frozen=True)
class Rate:
    """EUR per one unit of a currency, as of a date."""

    eur_per_unit: Decimal
    as_of: date


@dataclass(frozen=True)
class Rates:
    """One reading of the exchange-rate table: currency (ISO 4217) -> `Rate`."""

    table: Mapping[str, Rate] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        frozen = MappingProxyType({code.strip().upper(): rate for code, rate in self.table.items()})
        object.__setattr__(self, "table", frozen)

    def get(self, currency: str | None) -> Rate | None:
        return self.table.get(_code(currency)) if currency else None

    def __contains__(self, currency: object) -> bool:
        return isinstance(currency, str) and self.get(currency) is not None

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.table.items())), self.source))


#: No rates at all: every cross-currency comparison is skipped.
NO_RATES: Final = Rates()


@dataclass(frozen=True)
class Converted:
    """An amount converted into `currency`; `rate_date` is the date of the older of the
    two rates used, None when no conversion was needed (same currency)."""

    amount: Decimal
    currency: str
    rate_date: date | None

    @property
    def converted(self) -> bool:
        return self.rate_date is not None


def _code(currency: str | None) -> str:
    return (currency or "").strip().upper()


def rate_to_eur(currency: str | None, rates: Rates) -> Decimal | None:
    """EUR per unit of `currency`, or None when the currency has no rate."""
    rate = rates.get(currency)
    return None if rate is None else rate.eur_per_unit


def to_eur(amount: Decimal, currency: str | None, rates: Rates) -> Decimal | None:
    """`amount` in EUR at the table's rate, or None when the currency has no rate."""
    rate = rate_to_eur(currency, rates)
    return None if rate is None else amount * rate


def convert(amount: Decimal, from_ccy: str, to_ccy: str, rates: Rates) -> Converted | None:
    """`amount` of `from_ccy` in `to_ccy` through EUR, unrounded; None when either
    currency has no rate. The same currency converts to itself without a rate."""
    source, target = _code(from_ccy), _code(to_ccy)
    if source == target:
        return Converted(amount, target, None)
    have, want = rates.get(source), rates.get(target)
    if have is None or want is None or want.eur_per_unit == 0:
        return None
    return Converted(amount * have.eur_per_unit / want.eur_per_unit, target, min(have.as_of, want.as_of))


def display_amount(amount: Decimal) -> Decimal:
    """A converted amount as shown: whole units, half up (the rates are indicative)."""
    return amount.quantize(Decimal("1"), rounding="ROUND_HALF_UP")
