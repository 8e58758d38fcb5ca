"""Treatments and clinics: the catalogue cases are matched against."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db


class Treatment(db.Model):
    __tablename__ = "treatments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40), index=True)
    description: Mapped[str] = mapped_column(Text, default="")

    offers: Mapped[list[ClinicTreatment]] = relationship(back_populates="treatment")

    def __repr__(self) -> str:
        return f"<Treatment {self.slug}>"


class Clinic(db.Model):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(120))
    # The street address a visa letter names (the catalogue's `address`).
    address: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2), index=True)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    accreditations: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(default=10)
    accepting: Mapped[bool] = mapped_column(default=True)
    email: Mapped[str] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(300))
    response_hours: Mapped[int | None] = mapped_column()
    acceptance_rate: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))

    offers: Mapped[list[ClinicTreatment]] = relationship(
        back_populates="clinic", cascade="all, delete-orphan"
    )

    def offers_treatment(self, treatment_id: int) -> bool:
        return any(offer.treatment_id == treatment_id for offer in self.offers)

    def __repr__(self) -> str:
        return f"<Clinic {self.slug}>"


class ClinicTreatment(db.Model):
    """A clinic's offer of a treatment, with its indicative starting price."""

    __tablename__ = "clinic_treatments"
    __table_args__ = (UniqueConstraint("clinic_id", "treatment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id", ondelete="CASCADE"))
    price_from: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))

    clinic: Mapped[Clinic] = relationship(back_populates="offers")
    treatment: Mapped[Treatment] = relationship(back_populates="offers")


class CatalogVersion(db.Model):
    """One row whose token changes in every transaction that changes the catalogue, so
    each process can tell with one tiny query whether its copy is still current. A
    random token rather than a counter: a rolled-back change can never make a later,
    different catalogue look like one already cached."""

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
