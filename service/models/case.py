"""A patient's case, its files and its append-only timeline."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Computed,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    event,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.catalog import Clinic, Treatment
from service.models.priority import DEFAULT_PRIORITY, RANK_SQL
from service.models.status import CaseStatus
from service.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.derived import DerivedFile
    from service.models.quotes import Quote
    from service.models.staff import User


CASE_FIGURE_COLUMNS = ("created_at", "status", "closed_reason", "treatment_id", "country", "first_response_at", "id")


class Case(db.Model):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    # SHA-256 of the private status token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32), index=True, default=CaseStatus.SUBMITTED)
    source: Mapped[str] = mapped_column(String(8), default="web")

    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    # Indexed for the queue's country filter and its list of countries.
    country: Mapped[str] = mapped_column(String(2), index=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(8))

    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"), index=True)
    preferred_clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    description: Mapped[str] = mapped_column(Text)
    travel_window: Mapped[str | None] = mapped_column(String(200))
    budget: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    budget_currency: Mapped[str | None] = mapped_column(String(3))
    # None means "not answered"; "none known" is a real answer and kept as typed.
    medications: Mapped[str | None] = mapped_column(Text)
    allergies: Mapped[str | None] = mapped_column(Text)
    conditions: Mapped[str | None] = mapped_column(Text)

    # Staff work on the case (staff console).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    priority: Mapped[str] = mapped_column(String(10), default=DEFAULT_PRIORITY)
    # The queue's priority order, computed and stored by the database (0 = most urgent:
    # service.models.priority); indexed below with created_at and id, the whole sort.
    priority_rank: Mapped[int] = mapped_column(Integer, Computed(RANK_SQL, persisted=True))
    closed_reason: Mapped[str | None] = mapped_column(String(40))
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The SLA clock stops while the case waits on the patient: since when, and how long in all.
    sla_paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # The soonest running SLA deadline, kept by `service.cases.sla.refresh_deadline` so the
    # queue filters and sorts on an indexed column; while paused, the value at the pause's
    # start (`sla.due_at` adds the pause so far). None when no clock runs.
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The quote the patient chose (clinic portal issue).
    chosen_quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", use_alter=True, name="fk_cases_chosen_quote"))
    # Erasure: asked for by the patient, done by a job that blanks the personal fields.
    erasure_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optimistic locking: two coordinators cannot overwrite each other silently.
    version: Mapped[int] = mapped_column(Integer, default=1)

    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Which wording of the consent text the patient agreed to (service.trust.CONSENT_VERSION).
    consent_version: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # indexed below, with the figures
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    treatment: Mapped[Treatment] = relationship()
    preferred_clinic: Mapped[Clinic | None] = relationship()
    assignee: Mapped[User | None] = relationship()
    chosen_quote: Mapped[Quote | None] = relationship(foreign_keys=[chosen_quote_id], post_update=True)
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="case", order_by="Attachment.id"
    )
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id"
    )

    __table_args__ = (
        # The cases received in a period, with every column the dashboard counts them by
        # (service/dashboard/metrics.py): each of its figures is a range of this index
        # alone, not of the table's wide rows. Also every sort and range by creation time.
        Index("ix_cases_created_at_figures", *CASE_FIGURE_COLUMNS),
        # The priority sort of every case, and of the open ones (the default tab; the
        # query names the open statuses, which PostgreSQL proves are "not closed").
        Index("ix_cases_priority_rank_created_at_id", "priority_rank", "created_at", "id"),
        Index(
            "ix_cases_open_priority_rank_created_at_id", "priority_rank", "created_at", "id",
            postgresql_where=text(f"status <> '{CaseStatus.CLOSED.value}'"),
            sqlite_where=text(f"status <> '{CaseStatus.CLOSED.value}'"),
        ),
    )
    __mapper_args__ = {"version_id_col": version}

    @property
    def status_enum(self) -> CaseStatus:
        return CaseStatus(self.status)

    def __repr__(self) -> str:
        return f"<Case {self.reference}>"


class Attachment(db.Model):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    # Generated by the server (cases/<id>/attachments/<uuid>), never from the filename.
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # A PDF with scripts or launch actions (service.uploads.has_active_content): kept for
    # the clinic, but flagged to staff, never shown inline and withheld from the dossier.
    active_content: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The patient's message the file came with (service.models.message); None for the
    # request form's and "add files" files. Message files reach a clinic only when forwarded.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("case_messages.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="attachments")
    # Previews and clinic copies made by workers (service.cases.derivatives).
    derived: Mapped[list[DerivedFile]] = relationship(back_populates="attachment", order_by="DerivedFile.id")


class CaseEvent(db.Model):
    """One line of a case's timeline. Rows are only ever inserted."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events")


class ReferenceCounter(db.Model):
    """Last reference number handed out per year (MT-<year>-<number>)."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(CaseEvent, "before_update")
@event.listens_for(CaseEvent, "before_delete")
def _refuse_timeline_rewrite(mapper, connection, target: CaseEvent) -> None:
    raise AppendOnlyError("case events are append-only")
