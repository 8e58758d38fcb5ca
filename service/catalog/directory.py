"""The public catalogue as patients browse it (/clinics, /treatments): plain functions
over one reading of the catalogue (`snapshot.current()`), no database of their own.

What a patient may see and nothing more: a paused clinic (`accepting` False) is left
out everywhere, and a clinic's capacity, e-mail, referrals and routing scores never
reach these dataclasses, so no template can show them. The answer time and the
acceptance rate are the figures routing ranks with (the catalogue's `response_hours`
and `acceptance_rate`), shown as they are.

Texts are in the page's language (`LocalizedTexts.text`, `i18n.country_name`,
`i18n.language_name`). Prices are the clinics' indicative "from" prices, and, where the
exchange-rate table allows, the same amount in the patient's currency: the caller passes
a `Converter` (the rates live with routing, which this package may not import).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from math import ceil
from typing import Final

from service import choices, i18n
from service.catalog.snapshot import Catalog, ClinicEntry, OfferEntry, TreatmentEntry

#: Clinics on one page of /clinics.
PAGE_SIZE: Final = 12

#: An amount in a currency, converted into the patient's currency (whole units), or None
#: when the exchange-rate table has no rate for one of them.
Converter = Callable[[Decimal, str], Decimal | None]

#: The query parameters a filter reads, in the order links are written.
FILTER_ARGS: Final = ("treatment", "country", "accreditation", "language")


@dataclass(frozen=True)
class Filters:
    """What the patient narrowed the list to: plain query parameters, so a filtered
    list is a link. Blank means "any"; `currency` is the one prices are shown in."""

    treatment: str = ""
    country: str = ""
    accreditation: str = ""
    language: str = ""
    page: int = 1
    currency: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str], *, default_currency: str) -> Filters:
        """Read from a request's query string; the case of codes never matters, and a
        currency without an ISO 4217 code falls back to `default_currency`."""
        def arg(name: str) -> str:
            value = args.get(name)
            return value.strip() if isinstance(value, str) else ""

        try:
            page = max(1, int(arg("page") or 1))
        except ValueError:
            page = 1
        currency = arg("currency").upper()
        if currency not in choices.currency_codes():
            currency = default_currency
        return cls(
            treatment=arg("treatment").lower(),
            country=arg("country").upper(),
            accreditation=arg("accreditation"),
            language=arg("language").lower(),
            page=page,
            currency=currency,
        )

    @property
    def active(self) -> bool:
        return any(getattr(self, name) for name in FILTER_ARGS)

    def args(self, **changes: object) -> dict[str, object]:
        """The query parameters of this list (with `changes`), blanks and page 1 left out."""
        chosen = replace(self, **changes) if changes else self
        found: dict[str, object] = {name: getattr(chosen, name) for name in FILTER_ARGS if getattr(chosen, name)}
        if chosen.page > 1:
            found["page"] = chosen.page
        if chosen.currency:
            found["currency"] = chosen.currency
        return found


@dataclass(frozen=True)
class Price:
    """An indicative "from" price, and the same in the patient's currency when it
    differs and a rate exists (`converted` None otherwise)."""

    amount: Decimal
    currency: str
    converted: Decimal | None = None
    patient_currency: str = ""


@dataclass(frozen=True)
class OfferLine:
    treatment: TreatmentEntry
    price: Price


@dataclass(frozen=True)
class Named:
    """A code and its name in the page's language ("TR", "Türkei")."""

    code: str
    name: str


@dataclass(frozen=True)
class ClinicCard:
    """One clinic as the catalogue shows it."""

    slug: str
    name: str
    place: str                   # "Valencia, Spain" in the page's language
    country: Named
    description: str
    accreditations: tuple[str, ...]
    languages: tuple[Named, ...]
    offers: tuple[OfferLine, ...]
    response_hours: int | None
    acceptance_percent: int | None

    def offer(self, treatment_slug: str) -> OfferLine | None:
        return next((line for line in self.offers if line.treatment.slug == treatment_slug), None)


@dataclass(frozen=True)
class FilterOptions:
    """Every value a filter can take among the clinics shown, named and sorted in the
    page's language."""

    treatments: tuple[Named, ...]
    countries: tuple[Named, ...]
    accreditations: tuple[str, ...]
    languages: tuple[Named, ...]


@dataclass(frozen=True)
class ClinicList:
    """One page of /clinics. `unknown_treatment`: the filter named a treatment the
    catalogue does not have (the page says so rather than listing nothing silently)."""

    filters: Filters
    clinics: tuple[ClinicCard, ...]
    total: int
    page: int
    pages: int
    treatment: TreatmentEntry | None
    unknown_treatment: bool
    options: FilterOptions


@dataclass(frozen=True)
class TreatmentSummary:
    """A treatment on /treatments: how many clinics shown offer it, and the lowest "from"
    price among them when they all quote in one currency."""

    treatment: TreatmentEntry
    clinics: int
    lowest: Price | None


@dataclass(frozen=True)
class TreatmentList:
    filters: Filters
    categories: tuple[tuple[str, tuple[TreatmentSummary, ...]], ...]
    options: FilterOptions


@dataclass(frozen=True)
class TreatmentPage:
    treatment: TreatmentEntry
    clinics: tuple[ClinicCard, ...]


# --------------------------------------------------------------------------- reading


def visible(catalog: Catalog) -> tuple[ClinicEntry, ...]:
    """The clinics patients see: those accepting requests."""
    return tuple(clinic for clinic in catalog.clinics if clinic.accepting)


def clinic_list(catalog: Catalog, filters: Filters, convert: Converter | None = None) -> ClinicList:
    """The page of clinics `filters` asks for, PAGE_SIZE a page (a page past the last
    shows the last)."""
    treatment = catalog.treatment(filters.treatment) if filters.treatment else None
    unknown = bool(filters.treatment) and treatment is None
    matching = [] if unknown else [c for c in visible(catalog) if _matches(c, filters, treatment)]
    pages = max(1, ceil(len(matching) / PAGE_SIZE))
    page = min(filters.page, pages)
    shown = matching[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    return ClinicList(
        filters=replace(filters, page=page),
        clinics=tuple(card(catalog, clinic, filters.currency, convert) for clinic in shown),
        total=len(matching),
        page=page,
        pages=pages,
        treatment=treatment,
        unknown_treatment=unknown,
        options=filter_options(catalog),
    )


def clinic_page(catalog: Catalog, slug: str, currency: str, convert: Converter | None = None) -> ClinicCard | None:
    """A clinic's page, or None when there is no such clinic or it is paused."""
    clinic = catalog.clinic(slug)
    if clinic is None or not clinic.accepting:
        return None
    return card(catalog, clinic, currency, convert)


def treatment_list(catalog: Catalog, filters: Filters, convert: Converter | None = None) -> TreatmentList:
    """Every treatment by category, each with the number of clinics shown (narrowed by
    country, accreditation and language) that offer it."""
    clinics = [c for c in visible(catalog) if _matches(c, replace(filters, treatment=""), None)]
    grouped: dict[str, list[TreatmentSummary]] = {}
    for treatment in catalog.treatments:
        offers = [offer for clinic in clinics for offer in clinic.offers if offer.treatment_id == treatment.id]
        grouped.setdefault(treatment.category, []).append(
            TreatmentSummary(treatment, len(offers), _lowest(offers, filters.currency, convert))
        )
    return TreatmentList(
        filters=replace(filters, treatment="", page=1),
        categories=tuple(
            (category, tuple(sorted(items, key=lambda s: _sort_key(s.treatment.text("name")))))
            for category, items in grouped.items()
        ),
        options=filter_options(catalog),
    )


def treatment_page(
    catalog: Catalog, slug: str, currency: str, convert: Converter | None = None
) -> TreatmentPage | None:
    """A treatment's page with every clinic shown that offers it, or None."""
    treatment = catalog.treatment(slug)
    if treatment is None:
        return None
    clinics = tuple(
        card(catalog, clinic, currency, convert) for clinic in visible(catalog) if clinic.offers_treatment(treatment.id)
    )
    return TreatmentPage(treatment, clinics)


def filter_options(catalog: Catalog) -> FilterOptions:
    clinics = visible(catalog)
    offered = {offer.treatment_id for clinic in clinics for offer in clinic.offers}
    return FilterOptions(
        treatments=_named((t.slug, t.text("name")) for t in catalog.treatments if t.id in offered),
        countries=_named((code, i18n.country_name(code)) for code in {c.country for c in clinics}),
        accreditations=tuple(sorted({a for c in clinics for a in c.accreditations}, key=_sort_key)),
        languages=_named((code, i18n.language_name(code)) for code in {lang for c in clinics for lang in c.languages}),
    )


def card(catalog: Catalog, clinic: ClinicEntry, currency: str, convert: Converter | None) -> ClinicCard:
    by_id = {t.id: t for t in catalog.treatments}
    offers = tuple(
        OfferLine(by_id[offer.treatment_id], price(offer, currency, convert))
        for offer in sorted(clinic.offers, key=lambda o: _sort_key(by_id[o.treatment_id].text("name")))
        if offer.treatment_id in by_id
    )
    rate = clinic.acceptance_rate
    return ClinicCard(
        slug=clinic.slug,
        name=clinic.name,
        place=clinic.place(),
        country=Named(clinic.country, i18n.country_name(clinic.country)),
        description=clinic.text("description"),
        accreditations=clinic.accreditations,
        languages=_named((code, i18n.language_name(code)) for code in clinic.languages),
        offers=offers,
        response_hours=clinic.response_hours,
        acceptance_percent=None if rate is None else int((Decimal(rate) * 100).quantize(Decimal(1), "ROUND_HALF_UP")),
    )


def price(offer: OfferEntry, currency: str, convert: Converter | None) -> Price:
    """The offer's price, with the patient's-currency amount when it differs and a rate exists."""
    if not currency or currency == offer.currency or convert is None:
        return Price(offer.price_from, offer.currency)
    return Price(offer.price_from, offer.currency, convert(offer.price_from, offer.currency), currency)


# --------------------------------------------------------------------------- helpers


def _matches(clinic: ClinicEntry, filters: Filters, treatment: TreatmentEntry | None) -> bool:
    if treatment is not None and not clinic.offers_treatment(treatment.id):
        return False
    if filters.country and clinic.country != filters.country:
        return False
    if filters.accreditation and filters.accreditation.casefold() not in {a.casefold() for a in clinic.accreditations}:
        return False
    return not filters.language or filters.language in clinic.languages


def _lowest(offers: list[OfferEntry], currency: str, convert: Converter | None) -> Price | None:
    """The lowest "from" price when the offers share one currency (comparing across
    currencies would need rates, and a wrong lowest is worse than none)."""
    if not offers or len({offer.currency for offer in offers}) != 1:
        return None
    return price(min(offers, key=lambda o: o.price_from), currency, convert)


def _sort_key(label: str) -> bytes:
    """The page language's collation (`choices.sort_key`: "Ё" with "Е" in Russian)."""
    return choices.sort_key(i18n.current_language())(label)


def _named(pairs: Iterable[tuple[str, str]]) -> tuple[Named, ...]:
    return tuple(Named(code, name) for code, name in sorted(pairs, key=lambda pair: _sort_key(pair[1])))
