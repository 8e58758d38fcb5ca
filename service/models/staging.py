"""Files a patient uploaded (tus) before submitting the request form: staged, not yet a case's."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db
from service.models.types import UTCDateTime, utcnow


class StagedUpload(db.Model):
    """One resumable upload. Its bytes live in the store under ``uploads/<id>/``: the
    parts received so far (``parts``, in order), then, once complete, one object
    ``uploads/<id>/file``. Attached to a case at submission, or removed after expiry."""

    __tablename__ = "staged_uploads"

    # Random and unguessable (secrets.token_urlsafe); also the tus resource id.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The browser session that created it (a random id kept in the Flask session).
    owner: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    # [{"key": "uploads/<id>/part-<n>-<random>", "size": <bytes>}, ...] until assembled.
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Detected from the first bytes (service.uploads.detect_type) once they are in.
    content_type: Mapped[str | None] = mapped_column(String(100))
    sha256: Mapped[str | None] = mapped_column(String(64))
    # Found once the file is whole (service.uploads.check_content); the attachment inherits it.
    active_content: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    @property
    def complete(self) -> bool:
        return self.completed_at is not None

    def __repr__(self) -> str:
        return f"<StagedUpload {self.id} {self.offset}/{self.length}>"
