"""The staff case file's Quotes panel, as plain data: every version of every clinic's
quote with its price converted into the patient's currency, the chosen version marked,
and the patient's choice (when, and whether the patient or a coordinator made it).

Staff pages are in English, so the words here are English, not the page's language."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cases import quotes
from service.cases.events import Actor, EventKind
from service.cases.status import CaseStatus
from service.models import Case, CaseEvent, Quote, Referral
from service.models.quotes import INCLUDES
from service.paperwork.wording import format_whole_money
from service.routing import exchange_rates, fx


@dataclass(frozen=True)
class QuoteVersion:
    quote: Quote
    converted: fx.Converted | None  # in the panel's currency; None: no rate
    converted_text: str            # "≈ 10,212 USD at the rate of 2026-11-30", "" when already in it
    counts: bool                   # version 1, or a revision the patient accepted
    current: bool                  # the version that counts now
    chosen: bool                   # the version the patient chose
    sent_by: str                   # the clinic user's e-mail, or "—"


@dataclass(frozen=True)
class ClinicQuotes:
    referral: Referral
    versions: list[QuoteVersion]   # oldest first
    chosen: bool


@dataclass(frozen=True)
class Choice:
    clinic_name: str
    version: int
    at: datetime | None
    by: str                        # "the patient", or "staff (<email>)"


@dataclass(frozen=True)
class QuotePanel:
    currency: str
    rates_as_of: date | None
    rates_source: str
    clinics: list[ClinicQuotes]    # cheapest converted current quote first, then the rest
    choice: Choice | None
    includes: Mapping[str, str] = field(default_factory=lambda: dict(INCLUDES))  # key -> English label


def _converted_text(converted: fx.Converted | None, quote: Quote, currency: str) -> str:
    if converted is None:
        return f"no exchange rate for {quote.currency}: cannot be converted to {currency}"
    if converted.rate_date is None:
        return ""
    return f"≈ {format_whole_money(converted.amount, currency, 'en')} at the rate of {converted.rate_date.isoformat()}"


def _who(actor: str) -> str:
    if actor == Actor.PATIENT:
        return "the patient"
    kind, _, email = actor.partition(":")
    return f"{kind} ({email})" if email else kind


def _choice(session: Session, case: Case) -> Choice | None:
    chosen = case.chosen_quote
    if chosen is None:
        return None
    event = next((
        e for e in session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.STATUS_CHANGED)
            .order_by(CaseEvent.id.desc())
        ) if (e.details or {}).get("new") == CaseStatus.CHOSEN
    ), None)
    return Choice(
        clinic_name=chosen.referral.clinic.name, version=chosen.version,
        at=event.created_at if event is not None else None,
        by=_who(event.actor) if event is not None else "unknown",
    )


def quote_panel(session: Session, case: Case, rates: fx.Rates | None = None) -> QuotePanel:
    """The panel of `case`: reads the rate table once unless `rates` is given."""
    rates = rates if rates is not None else exchange_rates(session)
    currency = quotes.comparison_currency(case)
    order = {row.referral.id: n for n, row in enumerate(quotes.compared(case, rates=rates).rows)}
    referrals = sorted(
        (r for r in session.scalars(select(Referral).where(Referral.case_id == case.id)) if r.quotes),
        key=lambda r: (order.get(r.id, len(order)), r.id),
    )
    clinics = []
    for referral in referrals:
        current = quotes.current(referral)
        versions = []
        for quote in referral.quotes:
            converted = quotes.converted(quote, currency, rates)
            versions.append(QuoteVersion(
                quote=quote, converted=converted, converted_text=_converted_text(converted, quote, currency),
                counts=quote.counts, current=quote is current, chosen=case.chosen_quote_id == quote.id,
                sent_by=quote.created_by.email if quote.created_by is not None else "—",
            ))
        clinics.append(ClinicQuotes(referral, versions, any(v.chosen for v in versions)))
    dates = [rate.as_of for rate in rates.table.values()]
    return QuotePanel(
        currency=currency, rates_as_of=max(dates) if dates else None, rates_source=rates.source,
        clinics=clinics, choice=_choice(session, case),
    )
