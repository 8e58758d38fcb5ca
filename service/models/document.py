"""Generated PDFs on record, one row per slot."""
from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.case import Case
from service.models.referral import Referral
from service.models.types import UTCDateTime, utcnow

# The booking paperwork's slots: rendered once the patient chose (service.cases.
# paperwork_store), announced to the patient once stored (patient_mail). The visa
# letters ("visa_letter:<traveller id>") wait for the travellers' passports, so they
# are not part of that announcement.
BOOKING_SUMMARY: Final = "booking_summary"
VISA_LETTER: Final = "visa_letter"
BOOKING_SLOTS: Final = (BOOKING_SUMMARY,)


class Document(db.Model):
    """A generated PDF. `slot` names what it is for (e.g. "dossier:12", "confirmation"),
    so regenerating replaces the document instead of adding another."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("case_id", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    kind: Mapped[str] = mapped_column(String(40))
    slot: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(8))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    case: Mapped[Case] = relationship()
    referral: Mapped[Referral | None] = relationship()
