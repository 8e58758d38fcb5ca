"""A clinic's answer to a referral: a quote, kept in versions, and the vocabulary of its
fields (what a price may cover, the limits). Version 1 counts as soon as the clinic
sends it; a revision counts only once the patient has accepted it."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from sqlalchemy import JSON, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.i18n import N_
from service.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.staff import User
    from service.models.referral import Referral

# What a price may cover, defined once (forms, pages and PDFs read the labels here).
# The labels are English msgids: `service.cases.quotes.include_labels()` gives them in
# the page's language.
INCLUDES: Final[dict[str, str]] = {
    "treatment": N_("Treatment"),
    "stay": N_("Hospital stay"),
    "transfers": N_("Airport and hospital transfers"),
    "interpreter": N_("Interpreter"),
}
# The fields a revision can change, with their labels (English msgids, translated by
# `changes`), in the order people read them.
FIELDS: Final[dict[str, str]] = {
    "price": N_("Price"),
    "currency": N_("Currency"),
    "includes": N_("Included"),
    "earliest_date": N_("Earliest date"),
    "stay_days": N_("Length of stay (days)"),
    "valid_until": N_("Valid until"),
    "notes": N_("Notes"),
}


class Quote(db.Model):
    __tablename__ = "quotes"
    __table_args__ = (UniqueConstraint("referral_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    # What the price covers: keys of `INCLUDES`.
    includes: Mapped[list[str]] = mapped_column(JSON, default=list)
    earliest_date: Mapped[date] = mapped_column(Date)
    stay_days: Mapped[int] = mapped_column(Integer)
    valid_until: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Revisions (version > 1) count once the patient accepts them.
    patient_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    referral: Mapped[Referral] = relationship(back_populates="quotes")
    created_by: Mapped[User | None] = relationship()

    @property
    def counts(self) -> bool:
        return self.version == 1 or self.patient_accepted_at is not None

    def __repr__(self) -> str:
        return f"<Quote referral={self.referral_id} v{self.version} {self.price} {self.currency}>"
