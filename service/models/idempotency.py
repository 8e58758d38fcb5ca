"""Idempotency keys: one submission sent twice (an API retry, a double click) makes one case."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db
from service.models.types import UTCDateTime, utcnow


class IdempotencyKey(db.Model):
    """A key seen once (service/cases/idempotency.py). ``scope`` is "api" (the
    ``Idempotency-Key`` header) or "form" (the form's hidden submission token, which
    also belongs to one browser session, ``owner``). Only the key's SHA-256 is kept;
    the recorded response (it carries the status token) is sealed with secrets_box."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))
    key_hash: Mapped[str] = mapped_column(String(64))
    # The browser session (staging.session_owner) for "form"; None for "api".
    owner: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of the request's form fields and file hashes ("" for the form).
    fingerprint: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # None while the first request is still running.
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    def __repr__(self) -> str:
        return f"<IdempotencyKey {self.scope} {self.key_hash[:8]} {self.response_status}>"
