"""Facts read from the database (SQLite and PostgreSQL): the demo catalogue, open
referral counts, the clinics a case was already referred to, and a constant number
of queries whatever the catalogue's size."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from service.cases.status import ReferralStatus
from service.extensions import db
from service.models import Clinic, ClinicTreatment, Treatment
from service.routing import fx
from service.routing import (
    CaseFacts,
    Offer,
    case_facts,
    clinic_facts,
    rank_clinics,
    referred_clinic_slugs,
    top,
)
from tests.conftest import CATALOG
from tests.fixtures.cases import TRANSFEMORAL, make_case, treatment
from tests.fixtures.exchange_rates import file_rates, load_exchange_rates
from tests.fixtures.referrals import find_clinic, make_referral


@pytest.fixture
def exchange_rates(app_ctx) -> fx.Rates:
    """The data file's rates, loaded into the test database."""
    return load_exchange_rates()


@pytest.fixture(scope="module")
def catalog() -> dict:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


@contextlib.contextmanager
def counting_statements() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --------------------------------------------------------------------------- the demo catalogue


def test_clinic_facts_match_the_demo_catalogue_for_every_treatment(app_ctx, catalog):
    for entry in catalog["treatments"]:
        expected = {
            c["slug"]: (c, offer)
            for c in catalog["clinics"]
            for offer in c["treatments"]
            if offer["slug"] == entry["slug"]
        }
        facts = clinic_facts(db.session, treatment(entry["slug"]).id)
        assert sorted(f.slug for f in facts) == sorted(expected), entry["slug"]
        for fact in facts:
            source, offer = expected[fact.slug]
            assert fact.name == source["name"]
            assert fact.country == source["country"]
            assert fact.languages == tuple(source["languages"])
            assert fact.accreditations == tuple(source["accreditations"])
            assert fact.accepting is source["accepting"]
            assert fact.capacity == source["capacity"]
            assert fact.open_referrals == 0
            assert fact.response_hours == float(source["response_hours"])
            assert fact.acceptance_rate == pytest.approx(source["acceptance_rate"])
            assert isinstance(fact.acceptance_rate, float)
            assert dict(fact.offers) == {
                entry["slug"]: Offer(Decimal(offer["price_from"]).quantize(Decimal("0.01")), offer["currency"])
            }


def test_an_unknown_treatment_has_no_clinics(app_ctx):
    assert clinic_facts(db.session, 987654) == []


def test_missing_history_reads_as_none(app_ctx):
    target = find_clinic("baltic-limb-vilnius")
    target.response_hours = None
    target.acceptance_rate = None
    db.session.flush()
    [fact] = [f for f in clinic_facts(db.session, treatment(TRANSFEMORAL).id) if f.slug == target.slug]
    assert fact.response_hours is None and fact.acceptance_rate is None


# --------------------------------------------------------------------------- open referrals


def test_open_referral_counts_include_only_open_statuses(app_ctx):
    offering = [f.slug for f in clinic_facts(db.session, treatment(TRANSFEMORAL).id)]
    busy, quiet = offering[0], offering[1]
    for status in ReferralStatus:  # one referral per status, plus a second pending one
        make_referral(make_case(), busy, status=status)
    make_referral(make_case(), busy, status=ReferralStatus.PENDING)
    make_referral(make_case(), quiet, status=ReferralStatus.DECLINED)
    make_referral(make_case(), quiet, status=ReferralStatus.WITHDRAWN)
    # Open referrals for another treatment still count against the clinic's capacity.
    make_referral(make_case(treatment_slug="knee-replacement"), quiet, status=ReferralStatus.ACCEPTED)

    counts = {f.slug: f.open_referrals for f in clinic_facts(db.session, treatment(TRANSFEMORAL).id)}
    assert set(ReferralStatus.open()) == {ReferralStatus.PENDING, ReferralStatus.ACCEPTED}
    assert counts[busy] == 3  # pending, accepted, pending
    assert counts[quiet] == 1  # the accepted knee case; declined and withdrawn are closed
    assert all(n == 0 for slug, n in counts.items() if slug not in (busy, quiet))


def test_a_clinic_filled_to_capacity_drops_out_of_the_ranking(app_ctx):
    treatment_id = treatment(TRANSFEMORAL).id
    target = find_clinic(clinic_facts(db.session, treatment_id)[0].slug)
    target.capacity = 2
    make_referral(make_case(), target.slug, status=ReferralStatus.PENDING)
    facts = case_facts(make_case())
    assert target.slug in [m.clinic_slug for m in rank_clinics(facts, clinic_facts(db.session, treatment_id))]
    make_referral(make_case(), target.slug, status=ReferralStatus.ACCEPTED)
    assert target.slug not in [m.clinic_slug for m in rank_clinics(facts, clinic_facts(db.session, treatment_id))]


# --------------------------------------------------------------------------- the case


def test_case_facts(app_ctx, exchange_rates):
    chosen = find_clinic("baltic-limb-vilnius")
    case = make_case(
        preferred_clinic=chosen, budget=Decimal("30000.00"), budget_currency="EUR", language="ru", country="KZ"
    )
    assert case_facts(case) == CaseFacts(
        treatment_slug=TRANSFEMORAL,
        treatment_name="Osseointegrated prosthesis, above knee",
        language="ru",
        country="KZ",
        budget=Decimal("30000.00"),
        budget_currency="EUR",
        preferred_clinic_slug="baltic-limb-vilnius",
        rates=file_rates(),
    )
    plain = case_facts(make_case())
    assert plain.preferred_clinic_slug is None and plain.budget is None and plain.budget_currency is None


def test_referred_clinic_slugs_cover_every_status_but_only_this_case(app_ctx):
    offering = [f.slug for f in clinic_facts(db.session, treatment(TRANSFEMORAL).id)]
    case, other = make_case(), make_case()
    make_referral(case, offering[0], status=ReferralStatus.DECLINED)
    make_referral(case, offering[1], status=ReferralStatus.WITHDRAWN)
    make_referral(case, offering[2], status=ReferralStatus.PENDING)
    make_referral(other, offering[3], status=ReferralStatus.PENDING)
    assert referred_clinic_slugs(db.session, case.id) == set(offering[:3])
    assert referred_clinic_slugs(db.session, make_case().id) == set()

    # Re-routing the case leaves out every clinic it has already been sent to.
    ranked = rank_clinics(
        case_facts(case), clinic_facts(db.session, case.treatment_id),
        exclude=referred_clinic_slugs(db.session, case.id),
    )
    assert ranked and not {m.clinic_slug for m in ranked} & set(offering[:3])


def test_the_demo_request_is_routed_to_three_clinics_with_reasons(app_ctx):
    case = make_case(budget=Decimal("30000"), budget_currency="EUR", language="ru")
    matches = top(rank_clinics(case_facts(case), clinic_facts(db.session, case.treatment_id)), 3)
    assert len(matches) == 3
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    for match in matches:
        assert match.reasons[0] == "offers Osseointegrated prosthesis, above knee"
        assert all(match.reasons)


# --------------------------------------------------------------------------- exchange rates


def test_the_rates_are_read_from_the_table_in_one_query_per_routing_call(app_ctx, exchange_rates):
    case = make_case(budget=Decimal("30000"), budget_currency="USD")
    db.session.execute(select(1))
    with counting_statements() as statements:
        facts = case_facts(case)
    assert sum("exchange_rates" in s for s in statements) == 1
    assert facts.rates == exchange_rates and facts.rates.get("INR") == file_rates().get("INR")


def test_routing_compares_a_budget_in_another_currency_only_with_the_table_loaded(app_ctx):
    case = make_case(budget=Decimal("30000"), budget_currency="USD")
    clinics = [f for f in clinic_facts(db.session, case.treatment_id) if f.offers[TRANSFEMORAL].currency != "USD"]
    assert clinics
    without = rank_clinics(case_facts(case), clinics)
    assert not any(c.key == "budget" for m in without for c in m.components)
    load_exchange_rates()
    with_rates = rank_clinics(case_facts(case), clinics)
    assert all(any(c.key == "budget" for c in m.components) for m in with_rates)


# --------------------------------------------------------------------------- query count


def test_clinic_facts_costs_one_query_whatever_the_catalogue(app_ctx, catalog):
    treatments = db.session.scalars(select(Treatment).order_by(Treatment.slug)).all()
    db.session.execute(select(1))  # the test transaction's SAVEPOINT is not ours to count

    def queries_per_treatment() -> list[int]:
        counts = []
        for t in treatments:
            with counting_statements() as statements:
                clinic_facts(db.session, t.id)
            counts.append(len(statements))
        return counts

    before = queries_per_treatment()
    assert before == [1] * len(treatments)

    # Ten times the clinics, all offering everything, with referrals in every status.
    for i in range(len(catalog["clinics"]) * 10):
        extra = Clinic(
            slug=f"extra-{i:04d}", name=f"Extra {i}", city="Riga", country="LV", languages=["lv", "en"],
            accreditations=["JCI"], capacity=50, email=f"x{i}@clinic.example",
        )
        extra.offers = [ClinicTreatment(treatment=t, price_from=Decimal("1000"), currency="EUR") for t in treatments]
        db.session.add(extra)
    db.session.flush()
    for i, status in enumerate(list(ReferralStatus) * 5):
        make_referral(make_case(), f"extra-{i:04d}", status=status)

    after = queries_per_treatment()
    assert after == before
    sizes = {t.slug: len(clinic_facts(db.session, t.id)) for t in treatments}
    assert min(sizes.values()) >= len(catalog["clinics"]) * 10


# --------------------------------------------------------------------------- plan


def _candidate_plan(treatment_id: int) -> str:
    """The database's plan of the candidate query, as one string. PostgreSQL would
    rightly scan the tiny test tables, so sequential scans are priced out: what is
    checked is that an index fitting the query exists and the planner can use it."""
    from service.routing.facts import _CLINIC_FACTS

    connection = db.session.connection()
    sql = str(_CLINIC_FACTS.params(treatment_id=treatment_id).compile(
        dialect=connection.dialect, compile_kwargs={"literal_binds": True}
    ))
    if connection.dialect.name == "sqlite":
        return "\n".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    try:
        return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))
    finally:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = on")


def test_the_candidate_query_finds_offers_and_counts_open_referrals_through_their_indexes(app_ctx):
    plan = _candidate_plan(treatment(TRANSFEMORAL).id)
    # The offers of one treatment, not a scan of every clinic's offers.
    assert "ix_clinic_treatments_treatment_id_clinic_id_offer" in plan, plan
    # Each candidate's open referrals counted in the index, without reading the rows.
    assert "ix_referrals_clinic_id_status" in plan, plan
    if db.session.get_bind().dialect.name == "sqlite":
        assert "SCAN clinics" not in plan and "SCAN clinic_treatments" not in plan, plan
        assert "COVERING INDEX ix_referrals_clinic_id_status" in plan, plan
        # The offers with their price from the index alone, already in the query's
        # order: no look-up of each offer row, and no sort (n log n) of the candidates.
        assert "COVERING INDEX ix_clinic_treatments_treatment_id_clinic_id_offer" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_clinic_facts_come_in_clinic_id_order(app_ctx):
    """The order the index gives for free (ranking sorts the candidates itself)."""
    ids = dict(db.session.execute(select(Clinic.slug, Clinic.id)).all())
    facts = clinic_facts(db.session, treatment(TRANSFEMORAL).id)
    assert len(facts) > 1
    assert [ids[f.slug] for f in facts] == sorted(ids[f.slug] for f in facts)
