"""What the back office produces for a case: referrals to clinics, documents,
notifications, and the outbox that hands work to the background workers."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.case import Case
from service.models.catalog import Clinic
from service.models.quotes import Quote
from service.models.status import ReferralStatus
from service.models.types import UTCDateTime, utcnow


class Referral(db.Model):
    """A case sent to one clinic. A case is never referred twice to the same clinic."""

    __tablename__ = "referrals"
    __table_args__ = (UniqueConstraint("case_id", "clinic_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=ReferralStatus.PENDING, index=True)
    score: Mapped[float] = mapped_column(Float)
    # The routing components in words and points, as staff see them.
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When staff released the patient's name and contact details to this clinic.
    contact_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship()
    clinic: Mapped[Clinic] = relationship()
    quotes: Mapped[list[Quote]] = relationship(back_populates="referral", order_by="Quote.version")


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


class Notification(db.Model):
    """One message to one recipient about one thing; the unique key makes sending idempotent."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("case_id", "kind", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(db.Model):
    """Background work recorded in the same transaction as the change that needs it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), index=True, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
