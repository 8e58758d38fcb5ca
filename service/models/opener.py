"""Single-use openers: the link an e-mail carries to the patient's status page. The
permanent status token is kept only as a hash, so it cannot be e-mailed again; each
e-mail gets an opener instead, kept as a hash too, that opens the page once within its
lifetime (service.cases.openers)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.case import Case
from service.models.types import UTCDateTime, utcnow


class Opener(db.Model):
    __tablename__ = "openers"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # SHA-256 of the random secret in the link; the secret itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the link opened the page, or when a new status link made it void.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()

    def __repr__(self) -> str:
        return f"<Opener {self.id} of case {self.case_id}{' used' if self.used_at else ''}>"
