"""The catalogue as the patient's pages read it: plain immutable data, read once per
process and read again only when the catalogue's version token has changed.

Why not ORM objects: the form used to load every clinic with its offers eager-loaded on
every request. That is slow with a real agency's hundreds of clinics, and it was the
allocation pattern under which the interpreter crashed (docs/sqlalchemy-gc-segfault.md).
Plain rows read once make the form page's catalogue cost one tiny query per request:
``SELECT token FROM catalog_version``.

Any flush that adds, changes or deletes a treatment, a clinic or an offer changes the
token in the same transaction (``catalog load``, the staff catalogue switches, tests), so
every process sees the change on its next request after the commit.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TypeVar

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from service.choices import sort_key
from service.extensions import db
from service.i18n import current_language
from service.models import CatalogVersion, Clinic, ClinicTreatment, Treatment
from service.models.catalog import ClinicTexts, LocalizedTexts

T = TypeVar("T")
_EXTENSION = "catalog_snapshot"
_CATALOG_MODELS = (Treatment, Clinic, ClinicTreatment)


@dataclass(frozen=True)
class TreatmentEntry(LocalizedTexts):
    id: int
    slug: str
    name: str
    category: str
    description: str
    helpful_files: str = ""
    stay_days: int | None = None
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class OfferEntry:
    treatment_id: int
    price_from: Decimal
    currency: str


@dataclass(frozen=True)
class ClinicEntry(ClinicTexts):
    id: int
    slug: str
    name: str
    city: str
    country: str
    languages: tuple[str, ...]
    accreditations: tuple[str, ...]
    accepting: bool
    offers: tuple[OfferEntry, ...]
    address: str = ""            # the street address (visa letters, itinerary)
    description: str = ""
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False)
    # As routing measures them (the catalogue's figures): typical hours to answer a
    # referral, and the share of referrals accepted (0..1); None when unknown.
    response_hours: int | None = None
    acceptance_rate: Decimal | None = None

    def offers_treatment(self, treatment_id: int) -> bool:
        return any(offer.treatment_id == treatment_id for offer in self.offers)


@dataclass(frozen=True)
class Catalog:
    """One consistent reading of the catalogue, ordered as the pages list it."""

    token: str
    treatments: tuple[TreatmentEntry, ...]
    clinics: tuple[ClinicEntry, ...]
    _treatments_by_slug: Mapping[str, TreatmentEntry] = field(init=False, repr=False, compare=False)
    _clinics_by_slug: Mapping[str, ClinicEntry] = field(init=False, repr=False, compare=False)
    _derived: dict[Hashable, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_treatments_by_slug", MappingProxyType({t.slug: t for t in self.treatments}))
        object.__setattr__(self, "_clinics_by_slug", MappingProxyType({c.slug: c for c in self.clinics}))
        object.__setattr__(self, "_derived", {})

    def derived(self, key: Hashable, make: Callable[[], T]) -> T:
        """What `make` computes from this reading (a form's choice lists in one
        language), computed once per `key` and dropped with the reading when the
        catalogue changes. `key` must name everything else `make` depends on."""
        try:
            return self._derived[key]  # type: ignore[return-value]
        except KeyError:
            value = self._derived[key] = make()
            return value

    def treatment(self, slug: str) -> TreatmentEntry | None:
        return self._treatments_by_slug.get(slug)

    def clinic(self, slug: str) -> ClinicEntry | None:
        return self._clinics_by_slug.get(slug)

    def categories(self, language: str | None = None) -> dict[str, list[TreatmentEntry]]:
        """The treatments by category, each category's by name in `language` (else the
        page's), sorted by that language's collation."""
        language = language or current_language()
        by_name = sort_key(language)
        grouped: dict[str, list[TreatmentEntry]] = {}
        for treatment in self.treatments:
            grouped.setdefault(treatment.category, []).append(treatment)
        return {category: sorted(items, key=lambda t: by_name(t.text("name", language)))
                for category, items in grouped.items()}


def current() -> Catalog:
    """The catalogue for this request: the process's copy while its token is current
    (checked once per request; outside a request, on every call), else read afresh."""
    environ = request.environ if has_request_context() else {}
    if _EXTENSION in environ:
        return environ[_EXTENSION]
    token = _token()
    cached: Catalog | None = current_app.extensions.get(_EXTENSION)
    if cached is None or cached.token != token:
        cached = _read(token)
        current_app.extensions[_EXTENSION] = cached
    environ[_EXTENSION] = cached
    return cached


def _token() -> str:
    return db.session.scalar(select(CatalogVersion.token).where(CatalogVersion.id == 1)) or ""


def _read(token: str) -> Catalog:
    """Three plain SELECTs, no ORM instances: rows become frozen dataclasses."""
    t, c, o = Treatment.__table__.c, Clinic.__table__.c, ClinicTreatment.__table__.c
    treatments = tuple(
        TreatmentEntry(
            row.id, row.slug, row.name, row.category, row.description or "",
            helpful_files=row.helpful_files or "", stay_days=row.stay_days,
            translations=_frozen(row.translations),
        )
        for row in db.session.execute(
            select(t.id, t.slug, t.name, t.category, t.description, t.helpful_files, t.stay_days, t.translations)
            .order_by(t.category, t.name)
        )
    )
    offers: dict[int, list[OfferEntry]] = {}
    for row in db.session.execute(select(o.clinic_id, o.treatment_id, o.price_from, o.currency).order_by(o.id)):
        offers.setdefault(row.clinic_id, []).append(OfferEntry(row.treatment_id, row.price_from, row.currency))
    clinics = tuple(
        ClinicEntry(
            id=row.id, slug=row.slug, name=row.name, city=row.city, country=row.country,
            languages=tuple(row.languages or ()), accreditations=tuple(row.accreditations or ()),
            accepting=bool(row.accepting), offers=tuple(offers.get(row.id, ())), address=row.address or "",
            description=row.description or "", translations=_frozen(row.translations),
            response_hours=row.response_hours,
            acceptance_rate=None if row.acceptance_rate is None else Decimal(row.acceptance_rate),
        )
        for row in db.session.execute(
            select(c.id, c.slug, c.name, c.city, c.country, c.languages, c.accreditations, c.accepting, c.address,
                   c.description, c.translations, c.response_hours, c.acceptance_rate)
            .order_by(c.name)
        )
    )
    return Catalog(token=token, treatments=treatments, clinics=clinics)


def _frozen(translations: Mapping[str, Mapping[str, str]] | None) -> Mapping[str, Mapping[str, str]]:
    return MappingProxyType({lang: MappingProxyType(dict(texts)) for lang, texts in (translations or {}).items()})


def _touches_catalog(objects: Iterable[object]) -> bool:
    return any(isinstance(obj, _CATALOG_MODELS) for obj in objects)


def _bump_after_flush(session: Session, _context: object) -> None:
    """A new token in the transaction that changed the catalogue: it commits, or rolls
    back, together with the change."""
    if not (
        _touches_catalog(session.new)
        or _touches_catalog(session.deleted)
        or any(isinstance(obj, _CATALOG_MODELS) and session.is_modified(obj) for obj in session.dirty)
    ):
        return
    connection = session.connection()
    token = secrets.token_hex(16)
    changed = connection.execute(update(CatalogVersion).where(CatalogVersion.id == 1).values(token=token))
    if changed.rowcount == 0:
        connection.execute(insert(CatalogVersion).values(id=1, token=token))


def init_app(app: Flask) -> None:
    """Every session (Flask-SQLAlchemy's and plain ones) bumps the token on a catalogue change."""
    del app
    if not event.contains(Session, "after_flush", _bump_after_flush):
        event.listen(Session, "after_flush", _bump_after_flush)
