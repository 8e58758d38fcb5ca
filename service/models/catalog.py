"""Treatments and clinics: the catalogue cases are matched against."""
from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db


def localized(texts: Mapping[str, Mapping[str, str]] | None, english: str, field: str, language: str | None) -> str:
    """A catalogue text in `language` when the catalogue has it, else the English one."""
    if language and language != "en" and texts:
        found = (texts.get(language) or {}).get(field)
        if found:
            return found
    return english


class LocalizedTexts:
    """Per-language catalogue texts: English in the columns, the others in `translations`
    ({"ru": {"name": ..., "description": ...}}), read through `text(field, language)`."""

    translations: Any

    def text(self, field: str, language: str | None = None) -> str:
        """`field` ("name", "description", "city", ...) in `language`, else the page's."""
        if language is None:
            from service.i18n import current_language
            language = current_language()
        return localized(self.translations, getattr(self, field) or "", field, language)


class ClinicTexts(LocalizedTexts):
    """A clinic's texts, and where it is: the city and the country in one language."""

    def place(self, language: str | None = None) -> str:
        """"Valencia, Spain" / "Валенсия, Испания" in `language`, else the page's: the
        city from the catalogue, the country from CLDR, never one without the other's language."""
        from service.i18n import country_name, current_language

        language = language or current_language()
        country = getattr(self, "country", None) or ""
        return ", ".join(part for part in (self.text("city", language), country and country_name(country, language))
                         if part)


class Treatment(LocalizedTexts, db.Model):
    __tablename__ = "treatments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # What files help a clinic quote ("recent knee X-rays, standing"), and the usual stay.
    helpful_files: Mapped[str] = mapped_column(Text, default="", server_default="")
    stay_days: Mapped[int | None] = mapped_column(Integer)
    # The other languages' name, description and helpful_files (LocalizedTexts).
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)

    offers: Mapped[list[ClinicTreatment]] = relationship(back_populates="treatment")

    def __repr__(self) -> str:
        return f"<Treatment {self.slug}>"


class Clinic(ClinicTexts, db.Model):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(120))
    # The street address a visa letter names (the catalogue's `address`).
    address: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2), index=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The other languages' city and description (LocalizedTexts).
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
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
    __table_args__ = (
        UniqueConstraint("clinic_id", "treatment_id"),
        # Routing's candidate query: the offers of one treatment in clinic order, with
        # their price, from the index alone (service/routing/facts.py).
        Index(
            "ix_clinic_treatments_treatment_id_clinic_id_offer", "treatment_id", "clinic_id", "price_from", "currency"
        ),
    )

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
