"""Loading the catalogue from a JSON file. Idempotent: records are matched by slug and
only changed fields are written, so loading the same file twice changes nothing."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pycountry
from sqlalchemy import select

from service.extensions import db
from service.i18n import N_
from service.models import Clinic, ClinicTreatment, Treatment

# English labels, marked for the catalogue (the landing page shows them translated).
CATEGORIES: dict[str, str] = {
    "orthopaedics": N_("Orthopaedics"),
    "prosthetics": N_("Prosthetics"),
    "cardiology": N_("Cardiology"),
    "oncology": N_("Oncology"),
    "ivf": N_("IVF and fertility"),
    "dental": N_("Dental"),
    "ophthalmology": N_("Ophthalmology"),
    "bariatric": N_("Bariatric surgery"),
    "cosmetic": N_("Cosmetic surgery"),
}

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class CatalogError(ValueError):
    pass


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


def _require(entry: dict[str, Any], key: str, where: str) -> Any:
    if key not in entry or entry[key] in (None, ""):
        raise CatalogError(f"{where}: missing '{key}'")
    return entry[key]


def _slug(entry: dict[str, Any], where: str) -> str:
    slug = _require(entry, "slug", where)
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise CatalogError(f"{where}: slug {slug!r} must be lowercase letters, digits and hyphens")
    return slug


def _apply(record: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed = True
    return changed


def _texts(
    entry: dict[str, Any], where: str, fields: dict[str, bool]
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The localisable `fields` ({name: required}) of an entry. Each is a string (English)
    or an object of language code to text, English ("en") required:
    ``"name": {"en": "Total knee replacement", "ru": "Эндопротезирование коленного сустава"}``.
    Returns (the English values, {language: {field: text}} for the others)."""
    english: dict[str, str] = {}
    others: dict[str, dict[str, str]] = {}
    for name, required in fields.items():
        value = entry.get(name)
        if isinstance(value, dict):
            for code, text in value.items():
                if not isinstance(code, str) or pycountry.languages.get(alpha_2=code) is None:
                    raise CatalogError(f"{where}: {name} has language {code!r}, not an ISO 639-1 code")
                if not isinstance(text, str):
                    raise CatalogError(f"{where}: {name} in {code!r} must be text")
            if not value.get("en"):
                raise CatalogError(f"{where}: {name} has no English ('en') text")
            english[name] = value["en"]
            for code, text in value.items():
                if code != "en" and text:
                    others.setdefault(code, {})[name] = text
        elif value in (None, ""):
            if required:
                raise CatalogError(f"{where}: missing '{name}'")
            english[name] = ""
        elif isinstance(value, str):
            english[name] = value
        else:
            raise CatalogError(f"{where}: {name} must be text or an object of language to text")
    return english, others


def _treatment_values(entry: dict[str, Any], where: str) -> dict[str, Any]:
    category = _require(entry, "category", where)
    if category not in CATEGORIES:
        raise CatalogError(f"{where}: category {category!r} is not one of {', '.join(CATEGORIES)}")
    english, others = _texts(entry, where, {"name": True, "description": False, "helpful_files": False})
    stay = entry.get("stay_days")
    if stay is not None and (not isinstance(stay, int) or isinstance(stay, bool) or stay < 0):
        raise CatalogError(f"{where}: stay_days must be a whole number of days")
    return {**english, "category": category, "stay_days": stay, "translations": others}


def _clinic_values(entry: dict[str, Any], where: str) -> dict[str, Any]:
    country = _require(entry, "country", where)
    if pycountry.countries.get(alpha_2=country) is None:
        raise CatalogError(f"{where}: country {country!r} is not an ISO 3166-1 alpha-2 code")
    languages = entry.get("languages", [])
    for code in languages:
        if pycountry.languages.get(alpha_2=code) is None:
            raise CatalogError(f"{where}: language {code!r} is not an ISO 639-1 code")
    rate = entry.get("acceptance_rate")
    english, others = _texts(entry, where, {"city": True, "description": False})
    return {
        "name": _require(entry, "name", where),
        **english,
        "translations": others,
        # The street address a visa letter names (optional: the city stands in without it).
        "address": (entry.get("address") or None),
        "country": country,
        "languages": list(languages),
        "accreditations": list(entry.get("accreditations", [])),
        "capacity": int(entry.get("capacity", 10)),
        "accepting": bool(entry.get("accepting", True)),
        "email": _require(entry, "email", where),
        "website": entry.get("website"),
        "response_hours": entry.get("response_hours"),
        "acceptance_rate": Decimal(str(rate)).quantize(Decimal("0.001")) if rate is not None else None,
    }


def _offer_values(entry: dict[str, Any], where: str) -> tuple[str, Decimal, str]:
    slug = _require(entry, "slug", where)
    currency = _require(entry, "currency", where)
    if pycountry.currencies.get(alpha_3=currency) is None:
        raise CatalogError(f"{where}: currency {currency!r} is not an ISO 4217 code")
    try:
        price = Decimal(str(_require(entry, "price_from", where))).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise CatalogError(f"{where}: price_from is not a number") from exc
    if price <= 0:
        raise CatalogError(f"{where}: price_from must be positive")
    return slug, price, currency


def load_catalog(data: dict[str, Any]) -> LoadReport:
    """Upsert treatments, clinics and their offers; commits once at the end."""
    report = LoadReport()
    treatments = {t.slug: t for t in db.session.scalars(select(Treatment))}
    for i, entry in enumerate(data.get("treatments", [])):
        slug = _slug(entry, f"treatments[{i}]")
        values = _treatment_values(entry, f"treatment {slug}")
        _, created, changed = _upsert(treatments, slug, Treatment, values)
        _count(report, created, changed)

    clinics = {c.slug: c for c in db.session.scalars(select(Clinic))}
    for i, entry in enumerate(data.get("clinics", [])):
        slug = _slug(entry, f"clinics[{i}]")
        where = f"clinic {slug}"
        clinic, created, changed = _upsert(clinics, slug, Clinic, _clinic_values(entry, where))
        offers_changed = _sync_offers(clinic, entry.get("treatments", []), treatments, where)
        _count(report, created, changed or offers_changed)
    db.session.commit()
    return report


def _upsert(
    existing: dict[str, Any], slug: str, model: type, values: dict[str, Any]
) -> tuple[Any, bool, bool]:
    """Returns (record, created, changed)."""
    record = existing.get(slug)
    if record is None:
        record = model(slug=slug, **values)
        db.session.add(record)
        existing[slug] = record
        return record, True, True
    return record, False, _apply(record, values)


def _count(report: LoadReport, created: bool, changed: bool) -> None:
    if created:
        report.created += 1
    elif changed:
        report.updated += 1
    else:
        report.unchanged += 1


def _sync_offers(
    clinic: Clinic, entries: list[dict[str, Any]], treatments: dict[str, Treatment], where: str
) -> bool:
    wanted: dict[str, tuple[Decimal, str]] = {}
    for j, entry in enumerate(entries):
        slug, price, currency = _offer_values(entry, f"{where}, treatments[{j}]")
        if slug not in treatments:
            raise CatalogError(f"{where}: unknown treatment {slug!r}")
        wanted[slug] = (price, currency)
    changed = False
    current = {offer.treatment.slug: offer for offer in clinic.offers if offer.treatment}
    for slug, offer in current.items():
        if slug not in wanted:
            clinic.offers.remove(offer)
            changed = True
    for slug, (price, currency) in wanted.items():
        offer = current.get(slug)
        if offer is None:
            clinic.offers.append(
                ClinicTreatment(treatment=treatments[slug], price_from=price, currency=currency)
            )
            changed = True
        elif _apply(offer, {"price_from": price, "currency": currency}):
            changed = True
    return changed


def load_file(path: Path) -> LoadReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: not valid JSON ({exc})") from exc
    return load_catalog(data)
