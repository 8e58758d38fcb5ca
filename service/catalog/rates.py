"""Loading the exchange-rate table from a JSON file (data/exchange_rates.json), like the
catalogue: idempotent (rows matched by currency, only changed fields written), and the
file is the whole table, so a currency left out of it is removed.

The file: ``{"source": "...", "as_of": "YYYY-MM-DD", "rates": {"USD": "0.862", ...}}``,
EUR per one unit of each ISO 4217 currency. Rates are strings (or numbers) read as
Decimal, never as floats."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pycountry
from sqlalchemy import select

from service.extensions import db
from service.models import ExchangeRate

# A rate is stored as Numeric(20, 10).
_PLACES = Decimal("0.0000000001")


class RatesError(ValueError):
    pass


@dataclass
class RatesReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def __str__(self) -> str:
        return (f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.removed} removed")


def _as_of(data: dict[str, Any]) -> date:
    raw = data.get("as_of")
    try:
        return date.fromisoformat(str(raw))
    except ValueError as exc:
        raise RatesError(f"as_of {raw!r} is not a date (YYYY-MM-DD)") from exc


def _rate(currency: str, raw: Any) -> Decimal:
    try:
        rate = Decimal(str(raw))
    except InvalidOperation as exc:
        raise RatesError(f"rate for {currency}: {raw!r} is not a number") from exc
    if not rate.is_finite() or rate <= 0:
        raise RatesError(f"rate for {currency}: must be a positive number of EUR per unit")
    quantized = rate.quantize(_PLACES)
    if quantized == 0:
        raise RatesError(f"rate for {currency}: too small to store (ten decimal places at most)")
    return quantized


def parse_rates(data: Any) -> tuple[str, date, dict[str, Decimal]]:
    """(source, as_of, currency -> EUR per unit) from the file's data, or `RatesError`."""
    if not isinstance(data, dict):
        raise RatesError("the file must hold a JSON object with source, as_of and rates")
    source = str(data.get("source") or "").strip()
    if not source:
        raise RatesError("missing 'source': say where the rates come from")
    if len(source) > 300:
        raise RatesError("'source' can be at most 300 characters")
    as_of = _as_of(data)
    rates = data.get("rates")
    if not isinstance(rates, dict) or not rates:
        raise RatesError("missing 'rates': an object of currency code -> EUR per unit")
    table: dict[str, Decimal] = {}
    for code, raw in rates.items():
        currency = str(code).strip().upper()
        if pycountry.currencies.get(alpha_3=currency) is None:
            raise RatesError(f"currency {code!r} is not an ISO 4217 code")
        table[currency] = _rate(currency, raw)
    if table.get("EUR", Decimal(1)) != 1:
        raise RatesError("the rate for EUR must be 1 (rates are EUR per unit)")
    table["EUR"] = Decimal(1).quantize(_PLACES)
    return source, as_of, table


def load_rates(data: Any) -> RatesReport:
    """Upsert the table from the file's data; commits once at the end."""
    source, as_of, table = parse_rates(data)
    report = RatesReport()
    existing = {row.currency: row for row in db.session.scalars(select(ExchangeRate))}
    for currency, rate in table.items():
        row = existing.pop(currency, None)
        values = {"eur_per_unit": rate, "as_of": as_of, "source": source}
        if row is None:
            db.session.add(ExchangeRate(currency=currency, **values))
            report.created += 1
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            report.updated += 1
        else:
            report.unchanged += 1
    for row in existing.values():
        db.session.delete(row)
        report.removed += 1
    db.session.commit()
    return report


def load_rates_file(path: Path) -> RatesReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RatesError(f"{path}: not valid JSON ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise RatesError(f"{path}: not UTF-8 text") from exc
    try:
        return load_rates(data)
    except RatesError as exc:
        raise RatesError(f"{path}: {exc}") from exc
