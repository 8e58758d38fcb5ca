"""The public catalogue: clinics and treatments a patient can browse before asking,
in their language, filtered by plain query parameters (a filtered list is a link)."""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, render_template, request

from service import choices, i18n
from service.catalog import directory, snapshot
from service.extensions import db
from service.routing import facts, fx

bp = Blueprint("catalogue", __name__)


def _filters() -> directory.Filters:
    return directory.Filters.from_args(request.args, default_currency=fx.DEFAULT_CURRENCY)


def _prices(currency: str) -> tuple[directory.Converter, list[tuple[str, str]]]:
    """The converter into the patient's currency (indicative rates, whole units), and
    the currencies the rate table can show prices in, named in the page's language."""
    rates = facts.exchange_rates(db.session)

    def convert(amount: Decimal, from_currency: str) -> Decimal | None:
        converted = fx.convert(amount, from_currency, currency, rates)
        return None if converted is None else fx.display_amount(converted.amount)

    offered = {*rates.table, currency}
    return convert, [pair for pair in choices.currencies_in(i18n.current_language()) if pair[0] in offered]


@bp.get("/clinics")
def clinics() -> str:
    i18n.use_page_language()
    filters = _filters()
    convert, currencies = _prices(filters.currency)
    listing = directory.clinic_list(snapshot.current(), filters, convert)
    return render_template("catalogue/clinics.html", listing=listing, currencies=currencies)


@bp.get("/clinics/<slug>")
def clinic(slug: str) -> str:
    i18n.use_page_language()
    currency = _filters().currency
    convert, currencies = _prices(currency)
    found = directory.clinic_page(snapshot.current(), slug, currency, convert)
    if found is None:
        abort(404)
    return render_template("catalogue/clinic.html", clinic=found, currency=currency, currencies=currencies)


@bp.get("/treatments")
def treatments() -> str:
    i18n.use_page_language()
    filters = _filters()
    convert, currencies = _prices(filters.currency)
    listing = directory.treatment_list(snapshot.current(), filters, convert)
    return render_template("catalogue/treatments.html", listing=listing, currencies=currencies)


@bp.get("/treatments/<slug>")
def treatment(slug: str) -> str:
    i18n.use_page_language()
    currency = _filters().currency
    convert, currencies = _prices(currency)
    found = directory.treatment_page(snapshot.current(), slug, currency, convert)
    if found is None:
        abort(404)
    return render_template("catalogue/treatment.html", page=found, currency=currency, currencies=currencies)
