"""A clinic's answer to a referral: a quote, kept in versions. Version 1 counts as soon
as the clinic sends it; a revision counts only once the patient has accepted it."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.staff import User
    from service.models.work import Referral


class Quote(db.Model):
    __tablename__ = "quotes"
    __table_args__ = (UniqueConstraint("referral_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    # What the price covers: keys of `service.cases.quotes.INCLUDES`.
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
