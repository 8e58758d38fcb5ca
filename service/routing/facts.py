"""Reading the facts routing needs from the database: the only module of
`service.routing` that touches it. Everything else works on the immutable facts
(`CaseFacts`, and one `ClinicFacts` named tuple per candidate).

`exchange_rates` reads the whole rate table in one query (a few dozen rows): once per
routing call (in `case_facts`) or once per page, never once per clinic.

`clinic_facts` costs one query whatever the size of the catalogue: the clinics
offering the treatment, their offer, and their open-referral count (a correlated
count on the referrals' (clinic_id, status) index), selecting only the columns
routing reads; its cost follows the number of candidates.
"""
from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import Float, Text, bindparam, cast, func, select, type_coerce
from sqlalchemy.orm import Session, object_session

from service.extensions import db
from service.models import Case, Clinic, ClinicTreatment, ExchangeRate, Referral, Treatment
from service.models.status import ReferralStatus
from service.routing import fx
from service.routing.collector import collector_paused
from service.routing.ranking import CaseFacts, ClinicFacts, Offer


def exchange_rates(session: Session) -> fx.Rates:
    """The exchange-rate table as plain data, one query; `source` is the newest row's."""
    table: dict[str, fx.Rate] = {}
    source, newest = "", None
    for currency, eur_per_unit, as_of, row_source in session.execute(
        select(ExchangeRate.currency, ExchangeRate.eur_per_unit, ExchangeRate.as_of, ExchangeRate.source)
    ):
        table[currency] = fx.Rate(Decimal(eur_per_unit), as_of)
        if newest is None or as_of > newest:
            source, newest = row_source, as_of
    return fx.Rates(table, source)


def case_facts(case: Case, rates: fx.Rates | None = None) -> CaseFacts:
    """What routing needs to know about a case (loads its treatment and chosen clinic,
    and the exchange-rate table unless `rates` is given)."""
    preferred = case.preferred_clinic
    return CaseFacts(
        treatment_slug=case.treatment.slug,
        treatment_name=case.treatment.name,
        language=case.language,
        country=case.country,
        budget=case.budget,
        budget_currency=case.budget_currency,
        preferred_clinic_slug=preferred.slug if preferred is not None else None,
        rates=rates if rates is not None else exchange_rates(db_session(case)),
    )


def db_session(case: Case) -> Session:
    """The session `case` belongs to (the one routing reads with), else the app's."""
    return object_session(case) or db.session


# Each candidate's count of open referrals: a correlated count answered from the
# (clinic_id, status) index of referrals, one index range per candidate, instead of
# joining every referral row and grouping the wide clinic rows.
_OPEN_REFERRALS = (
    select(func.count(Referral.clinic_id))
    .where(Referral.clinic_id == Clinic.id, Referral.status.in_([str(s) for s in ReferralStatus.open()]))
    .correlate(Clinic)
    .scalar_subquery()
)

# The clinics offering one treatment, each with its offer and its count of open
# referrals. The covering (treatment_id, clinic_id, price_from, currency) index of
# clinic_treatments yields the offers with their price in clinic order, each clinic is
# one primary-key look-up, and the rows come in the index's order, so there is no sort:
# the work is proportional to the candidates, not to the catalogue, with nothing
# n log n in it (migrations 0017 and 0018; `EXPLAIN` in bench/routing.py, the plan
# test in tests/service/routing/test_facts.py). The JSON lists come back as text,
# decoded once per distinct value. Built once; only the treatment id is bound per call.
_CLINIC_FACTS = (
    select(
        Clinic.slug,
        Clinic.name,
        Clinic.country,
        cast(Clinic.languages, Text),
        cast(Clinic.accreditations, Text),
        Clinic.accepting,
        Clinic.capacity,
        _OPEN_REFERRALS,
        Clinic.response_hours,
        type_coerce(Clinic.acceptance_rate, Float),
        ClinicTreatment.price_from,
        ClinicTreatment.currency,
        Treatment.slug,
    )
    .select_from(ClinicTreatment)
    .join(Clinic, Clinic.id == ClinicTreatment.clinic_id)
    .join(Treatment, Treatment.id == ClinicTreatment.treatment_id)
    .where(ClinicTreatment.treatment_id == bindparam("treatment_id"))
    .order_by(ClinicTreatment.clinic_id)
)


def _json_tuple(raw: str | None) -> tuple[str, ...]:
    """A JSON list of strings as a tuple."""
    if raw is None:
        return ()
    value = json.loads(raw)
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


def clinic_facts(session: Session, treatment_id: int) -> list[ClinicFacts]:
    """Every clinic offering the treatment, with that offer and its open referrals,
    in clinic id order (the index's: ranking orders them itself). One query. Each
    clinic's `offers` holds only this treatment.

    Constant work per row: the JSON lists are decoded once per distinct text in this
    call (a memo that lives as long as the call, so its hit rate does not depend on
    the catalogue's size)."""
    with collector_paused():
        return _clinic_facts(session, treatment_id)


def _clinic_facts(session: Session, treatment_id: int) -> list[ClinicFacts]:
    connection = session.connection(bind_arguments={"mapper": Clinic})
    rows = connection.execute(_CLINIC_FACTS, {"treatment_id": treatment_id}).all()
    decoded: dict[str | None, tuple[str, ...]] = {}

    def lists(raw: str | None) -> tuple[str, ...]:
        value = decoded.get(raw)
        if value is None:
            value = decoded[raw] = _json_tuple(raw)
        return value

    # Positional, in the field order: a named tuple per row, no keyword parsing.
    return [
        ClinicFacts(
            slug,
            name,
            country,
            lists(languages),
            lists(accreditations),
            bool(accepting),
            capacity,
            open_referrals,
            {treatment_slug: Offer(price_from, currency)},
            None if response_hours is None else float(response_hours),
            None if acceptance_rate is None else float(acceptance_rate),
        )
        for (
            slug, name, country, languages, accreditations, accepting, capacity, open_referrals,
            response_hours, acceptance_rate, price_from, currency, treatment_slug,
        ) in rows
    ]


def referred_clinic_slugs(session: Session, case_id: int) -> set[str]:
    """Slugs of every clinic the case was ever referred to, whatever the referral's
    status: re-routing never refers a case to the same clinic twice."""
    return set(
        session.scalars(
            select(Clinic.slug).join(Referral, Referral.clinic_id == Clinic.id).where(Referral.case_id == case_id)
        )
    )
