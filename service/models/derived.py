"""What workers make from a patient's file and store beside it: its preview, the copy
clinics get before the patient's identity is released, and for a CT/MRI disc what it
holds and one preview per series. The original is never changed."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.case import Attachment


class Purpose(StrEnum):
    """What a derived file is for."""

    PREVIEW = "preview"              # a JPEG staff and clinics see, and the dossier's figure
    CLINIC_COPY = "clinic_copy"      # de-identified; what a clinic downloads before release
    DISC = "disc"                    # a ZIP disc's studies and ignored members (no object)
    SERIES_PREVIEW = "series_preview"  # one JPEG per series of a disc; `part` is its key


class State(StrEnum):
    READY = "ready"
    FAILED = "failed"   # `reason` says why; a failed clinic copy withholds the file from clinics


class DerivedFile(db.Model):
    __tablename__ = "derived_files"
    __table_args__ = (UniqueConstraint("attachment_id", "purpose", "part", name="uq_derived_files_purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    part: Mapped[str] = mapped_column(String(20), default="")
    state: Mapped[str] = mapped_column(String(10))
    # cases/<case id>/derived/<uuid>: generated, never from the filename; None when failed.
    storage_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    # What de-identification took out ("GPS", "PatientName", "PDF Info"...) and flags
    # for staff ("burned_in_annotation").
    removed: Mapped[list[str]] = mapped_column(JSON, default=list)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A disc's studies and series, or a series preview's caption facts.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The library and version that made it: "pydicom 3.0.2 + dicom-anonymizer 2.1.0".
    tool: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attachment: Mapped[Attachment] = relationship(back_populates="derived")

    @property
    def ready(self) -> bool:
        return self.state == State.READY and self.storage_key is not None
