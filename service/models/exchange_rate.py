"""The dated exchange-rate table quotes are compared with (`service.routing.fx`):
loaded from a data file with its source and date, like the catalogue."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db


class ExchangeRate(db.Model):
    __tablename__ = "exchange_rates"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)  # ISO 4217
    eur_per_unit: Mapped[Decimal] = mapped_column(Numeric(20, 10))
    as_of: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(300))
