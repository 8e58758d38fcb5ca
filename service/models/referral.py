"""A case sent to one clinic: the routing score, its reasons and the clinic's answer."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.case import Case
from service.models.catalog import Clinic
from service.models.quotes import Quote
from service.models.status import ReferralState, ReferralStatus
from service.models.types import UTCDateTime, utcnow

REFERRAL_FIGURE_COLUMNS = ("created_at", "clinic_id", "status", "responded_at", "id")


class Referral(db.Model):
    """A case sent to one clinic. A case is never referred twice to the same clinic."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("case_id", "clinic_id"),
        # A clinic's open referrals counted from the index alone (routing's capacity
        # filter, service/routing/facts.py); also serves every look-up by clinic.
        Index("ix_referrals_clinic_id_status", "clinic_id", "status"),
        # The referrals sent in a period with what the dashboard's clinic figures read:
        # a range of this index alone. Also every range by creation time.
        Index("ix_referrals_created_at_figures", *REFERRAL_FIGURE_COLUMNS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    status: Mapped[str] = mapped_column(String(20), default=ReferralStatus.PENDING, index=True)
    score: Mapped[float] = mapped_column(Float)
    # The routing components in words and points, as staff see them.
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Indexed for the dashboard, which counts the referrals sent in a period: with the
    # columns its figures read, in __table_args__.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When staff released the patient's name and contact details to this clinic.
    contact_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    # The clinic's answer clock (service.cases.referral_clock), each mark set once: when
    # the reminder was asked for (24 h left), when the clock ran out, and when the case
    # was offered to the next-ranked clinic in its place (tried once, even if none was left).
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
    clinic: Mapped[Clinic] = relationship()
    quotes: Mapped[list[Quote]] = relationship(back_populates="referral", order_by="Quote.version")

    @property
    def state(self) -> ReferralState:
        """The stored status, or "chosen" / "not chosen" for an accepted referral once the
        patient chose a quote (of this clinic or another)."""
        chosen = self.case.chosen_quote
        if self.status == ReferralStatus.ACCEPTED and chosen is not None:
            return ReferralState.CHOSEN if chosen.referral_id == self.id else ReferralState.NOT_CHOSEN
        return ReferralState(self.status)
