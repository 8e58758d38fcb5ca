"""GET /staff/dashboard: signed-in staff only, the date range, the charts and tables."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import Clinic
from tests.fixtures.staff import sign_in
from tests.service.dashboard.factories import case, refer

NASTY = '<script>alert("x")</script>'


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/staff/dashboard")
    assert response.status_code == 302
    assert response.location.split("?")[0].endswith("/staff/login")


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_staff_see_the_dashboard(client, request, role):
    sign_in(client, request.getfixturevalue(role))
    response = client.get("/staff/dashboard")
    assert response.status_code == 200
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=29)
    assert f"Requests received from <strong>{start.day} {start:%B %Y}</strong>" in response.text
    assert 'aria-current="page">Dashboard' in response.text
    assert "css/staff-dashboard.css" in response.text


def test_the_date_range_filters_the_figures(staff_client):
    row = case("2026-01-10T08:00", status=CaseStatus.ROUTED, responded_after=3)
    refer(row, "bosphorus-ortho-istanbul", "2026-01-10T08:05", status=ReferralStatus.ACCEPTED, answered_after=5)

    january = staff_client.get("/staff/dashboard?from=2026-01-01&to=2026-01-31")
    assert january.status_code == 200
    assert "1 request from 2026-01-01 to 2026-01-31; the busiest day was 2026-01-10 with 1." in january.text
    assert "Median 3.0 h, 90th percentile 3.0 h, over 1 request; 0 still waiting" in january.text
    assert "Bosphorus Orthopaedic Centre" in january.text
    assert january.text.count('role="img"') >= 7
    assert 'value="2026-01-01"' in january.text and 'value="2026-01-31"' in january.text

    february = staff_client.get("/staff/dashboard?from=2026-02-01&to=2026-02-28")
    assert february.status_code == 200
    assert "Bosphorus Orthopaedic Centre" not in february.text
    assert "No requests were received in this period." in february.text
    assert "No referrals were sent to clinics in this period." in february.text
    assert "<svg" not in february.text  # an empty state per chart, not empty charts


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-03-10&to=2026-03-01", "The start date must be on or before the end date."),
        ("from=10.03.2026", "Enter the start date as year-month-day"),
        ("from=2020-01-01&to=2026-01-01", "Choose at most 366 days; this range has 2193."),
    ],
)
def test_a_wrong_range_is_explained_and_the_default_shown(staff_client, query, message):
    response = staff_client.get(f"/staff/dashboard?{query}")
    assert response.status_code == 422
    assert "There is a problem with the dates" in response.text
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert "The page shows the last 30 days until the dates are fixed." in response.text
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=29)
    assert f"Requests received from <strong>{start.day} {start:%B %Y}</strong>" in response.text


def test_clinic_names_are_escaped_everywhere(staff_client):
    clinic = db.session.query(Clinic).filter_by(slug="spree-limb-clinic-berlin").one()
    clinic.name = NASTY
    db.session.flush()
    row = case("2026-01-10T08:00", status=CaseStatus.ROUTED, responded_after=3)
    refer(row, "spree-limb-clinic-berlin", "2026-01-10T08:05", status=ReferralStatus.DECLINED, answered_after=5)
    response = staff_client.get("/staff/dashboard?from=2026-01-01&to=2026-01-31")
    assert response.status_code == 200
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in response.text


def test_the_page_has_a_table_for_each_chart(staff_client):
    case("2026-01-10T08:00", status=CaseStatus.SUBMITTED, country="GB")
    response = staff_client.get("/staff/dashboard?from=2026-01-01&to=2026-01-31")
    # Per day, funnel, treatments, residence; first response, destinations and clinics have nothing yet.
    assert response.text.count("The figures as a table") == 4
    assert "<caption>Requests per patient&#39;s country of residence</caption>" in response.text
    assert "United Kingdom (GB)" in response.text
    assert "None of the requests in this period has had a first response yet." in response.text
