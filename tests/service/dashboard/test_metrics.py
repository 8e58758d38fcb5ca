"""The dashboard's figures on crafted data, worked out by hand (UTC days)."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import inspect

from service.cases.status import CaseStatus, ReferralStatus
from service.dashboard import metrics
from service.dashboard.period import Period
from service.extensions import db
from service.models.case import CASE_FIGURE_COLUMNS
from service.models.referral import REFERRAL_FIGURE_COLUMNS
from tests.fixtures.statements import recorded_statements
from tests.service.dashboard.factories import case, refer

S = CaseStatus
R = ReferralStatus
WEEK = Period(date(2026, 3, 1), date(2026, 3, 7))


@pytest.fixture
def week(db_session):
    """Six requests in the week, two just outside it, and their referrals."""
    c1 = case("2026-03-01T09:00", status=S.CLOSED, closed_reason="booked", responded_after=2)
    # 02:59:59 at UTC+3 is still 1 March in UTC.
    c2 = case("2026-03-02T02:59:59+03:00", status=S.ROUTED, country="GB", responded_after=4)
    c3 = case("2026-03-02T00:00", status=S.SUBMITTED, treatment_slug="ivf-cycle")
    c4 = case("2026-03-03T10:00", status=S.CHOSEN, treatment_slug="ivf-cycle", country="RU", responded_after=30)
    case("2026-03-07T23:00", status=S.CLOSED, closed_reason="spam", treatment_slug="lasik", country="AE",
         responded_after=1)
    # Booked without ever being routed: still counts as routed and chosen in the funnel.
    case("2026-03-05T12:00", status=S.CLOSED, closed_reason="booked", responded_after=10)
    before = case("2026-02-28T23:59:59", status=S.ROUTED, responded_after=0.5)
    case("2026-03-08T00:00", status=S.SUBMITTED)

    refer(c1, "bosphorus-ortho-istanbul", "2026-03-01T09:05", status=R.ACCEPTED, answered_after=10)
    refer(c1, "spree-limb-clinic-berlin", "2026-03-01T09:05", status=R.DECLINED, answered_after=20)
    refer(c1, "anatolia-smile-antalya", "2026-03-01T09:05", status=R.WITHDRAWN)
    refer(c2, "bosphorus-ortho-istanbul", "2026-03-02T00:10")
    refer(c4, "vltava-ivf-prague", "2026-03-03T10:05", status=R.ACCEPTED, answered_after=6)
    # Sent in the week for a request received before it: counts for the clinic only.
    refer(before, "vltava-ivf-prague", "2026-03-01T00:01", status=R.DECLINED, answered_after=8)
    # Sent before the week: not counted.
    refer(before, "carmel-oncology-haifa", "2026-02-28T23:59:59", status=R.ACCEPTED, answered_after=1)
    return WEEK


def test_cases_per_day_by_current_status(week, db_session):
    per_day = metrics.cases_per_day(db_session, week)
    assert per_day.days == week.days
    assert per_day.total == 6
    assert {d: {s: n for s, n in by.items() if n} for d, by in per_day.counts.items()} == {
        date(2026, 3, 1): {S.CLOSED: 1, S.ROUTED: 1},
        date(2026, 3, 2): {S.SUBMITTED: 1},
        date(2026, 3, 3): {S.CHOSEN: 1},
        date(2026, 3, 4): {},
        date(2026, 3, 5): {S.CLOSED: 1},
        date(2026, 3, 6): {},
        date(2026, 3, 7): {S.CLOSED: 1},
    }
    assert per_day.day_total(date(2026, 3, 1)) == 2


def test_time_to_first_response(week, db_session):
    response = metrics.first_response(db_session, week)
    assert response.responded == 5
    assert response.median == 4
    assert response.p90 == 30  # nearest rank: the 5th of 5
    assert response.waiting == 1
    assert response.histogram == [
        ("under 1 h", 0), ("1–4 h", 2), ("4–8 h", 1), ("8–24 h", 1), ("24–48 h", 1), ("48–72 h", 0),
        ("72 h or more", 0),
    ]


def test_median_and_percentile():
    assert metrics.median([]) is None
    assert metrics.median([4, 1, 3, 2]) == 2.5
    assert metrics.percentile([], 90) is None
    assert metrics.percentile(list(range(1, 11)), 90) == 9
    assert metrics.percentile(list(range(1, 12)), 90) == 10
    assert metrics.percentile([7], 90) == 7


def test_cases_per_treatment_and_country(week, db_session):
    assert metrics.cases_per_treatment(db_session, week) == [
        ("Total knee replacement", 3), ("IVF cycle", 2), ("LASIK eye surgery", 1),
    ]
    assert metrics.cases_per_residence(db_session, week) == [("KZ", 3), ("AE", 1), ("GB", 1), ("RU", 1)]


def test_destination_counts_each_request_once_per_clinic_country(week, db_session):
    # c1 went to two Turkish clinics and a German one; c2 to a Turkish one; c4 to a Czech one.
    assert metrics.cases_per_destination(db_session, week) == [("TR", 2), ("CZ", 1), ("DE", 1)]


def test_clinic_answer_time_and_acceptance_rate(week, db_session):
    clinics = metrics.clinic_answers(db_session, week)
    assert [c.name for c in clinics] == [
        "Anatolia Smile Dental", "Bosphorus Orthopaedic Centre", "Spree Limb Reconstruction Clinic",
        "Vltava Reproductive Medicine",
    ]
    anatolia, bosphorus, spree, vltava = clinics
    # Withdrawn is not an answer.
    assert (anatolia.referred, anatolia.answered, anatolia.acceptance_rate, anatolia.median_answer_hours) == (
        1, 0, None, None
    )
    # One pending, one accepted after 10 h.
    assert (bosphorus.referred, bosphorus.answered, bosphorus.accepted) == (2, 1, 1)
    assert (bosphorus.median_answer_hours, bosphorus.acceptance_rate) == (10, 1.0)
    assert (spree.country, spree.referred, spree.answered, spree.accepted) == ("DE", 1, 1, 0)
    assert (spree.median_answer_hours, spree.acceptance_rate) == (20, 0.0)
    # Its referral for the request received before the week was sent in the week: it counts here.
    assert (vltava.referred, vltava.accepted, vltava.declined) == (2, 1, 1)
    assert (vltava.median_answer_hours, vltava.acceptance_rate) == (7, 0.5)  # median of 6 h and 8 h


def test_funnel_counts_requests_that_got_at_least_that_far(week, db_session):
    assert [(s.label, s.count) for s in metrics.funnel(db_session, week)] == [
        ("Requests", 6), ("Sent to clinics", 4), ("Clinic chosen", 3), ("Booked", 2),
    ]


def test_collect_and_overall_acceptance(week, db_session):
    data = metrics.collect(db_session, week)
    assert data.requests == 6
    # Accepted 1 + 0 + 1 of answered 1 + 1 + 2.
    assert data.acceptance_rate == 0.5


def test_an_empty_period_has_zeros_not_errors(db_session):
    data = metrics.collect(db_session, Period(date(2001, 1, 1), date(2001, 1, 31)))
    assert data.requests == 0 and len(data.per_day.days) == 31
    assert data.response.responded == 0 and data.response.median is None and data.response.p90 is None
    assert data.treatments == data.residences == data.destinations == data.clinics == []
    assert [s.count for s in data.funnel] == [0, 0, 0, 0]
    assert data.acceptance_rate is None


def test_collect_reads_the_chart_and_the_funnel_from_one_scan_of_the_cases(week, db_session):
    with recorded_statements(db.engine) as sent:
        data = metrics.collect(db_session, week)
    grouped_by_status = [s for s in sent if "FROM cases" in s and "GROUP BY" in s and "cases.status" in s]
    assert len(grouped_by_status) == 1
    assert len(sent) == 8
    assert data.per_day == metrics.cases_per_day(db_session, week)
    assert data.funnel == metrics.funnel(db_session, week)


def test_every_figure_can_read_its_period_from_an_index_alone(week):
    """Each statement that takes the cases (or the referrals) of a period names only
    columns of the created_at index built for the figures (migration 0020), so the
    database can answer it from a range of that index without reading the wide rows."""
    with recorded_statements(db.engine) as sent:
        metrics.collect(db.session, WEEK)
    covered = {"cases": set(CASE_FIGURE_COLUMNS), "referrals": set(REFERRAL_FIGURE_COLUMNS)}
    checked = 0
    for statement in sent:
        for table, columns in covered.items():
            if f"{table}.created_at >=" in statement:
                named = set(re.findall(rf"\b{table}\.(\w+)", statement))
                assert named <= columns, (table, named - columns, statement)
                checked += 1
    assert checked >= 8  # every figure's statements, each with its period
    inspector = inspect(db.session.connection())
    indexes = {index["name"]: index["column_names"] for table in covered for index in inspector.get_indexes(table)}
    assert tuple(indexes["ix_cases_created_at_figures"]) == CASE_FIGURE_COLUMNS
    assert tuple(indexes["ix_referrals_created_at_figures"]) == REFERRAL_FIGURE_COLUMNS
