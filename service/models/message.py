"""The conversation between a patient and the agency on a case, and the reply
templates staff write it with. A message's files are ordinary `Attachment` rows (with
`message_id` set), so they count toward the case's file limit and are erased with it."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.case import Attachment, Case
from service.models.types import UTCDateTime, utcnow


class Direction(StrEnum):
    """Who wrote: the patient to the agency, or the agency's staff to the patient."""

    PATIENT = "patient"
    STAFF = "staff"


class MessageSource(StrEnum):
    WEB = "web"
    EMAIL = "email"


class TemplateKind(StrEnum):
    """A question asks the patient for something; a reply tells them something."""

    QUESTION = "question"
    REPLY = "reply"


# The placeholders a template's text may use.
PLACEHOLDERS: Final = ("reference", "clinic", "patient_first_name")


class CaseMessage(db.Model):
    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # `events.Actor`: "patient", or "staff:<email>".
    author: Mapped[str] = mapped_column(String(120))
    direction: Mapped[str] = mapped_column(String(10))
    # The whole text as received (e-mail quotes included); folded only when shown.
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(8), default=MessageSource.WEB)
    # An auto-reply or bounce: kept on the case, nobody told, never answered.
    automatic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    email_message_id: Mapped[str | None] = mapped_column(String(255))
    # Files of an e-mail that failed the upload checks: [{"filename", "reason"}].
    refused_files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        primaryjoin="CaseMessage.id == foreign(Attachment.message_id)", order_by="Attachment.id", viewonly=True,
    )


class ReplyTemplate(db.Model):
    __tablename__ = "reply_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10), default=TemplateKind.QUESTION)
    body_en: Mapped[str] = mapped_column(Text)
    body_ru: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
