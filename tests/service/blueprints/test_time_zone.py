"""The browser's time zone (/time-zone, static/js/time-zone.js): kept for the session,
saved for a signed-in staff user, and used to show times with the zone named."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from service.accounts.roles import ADMIN
from service.extensions import db
from tests.fixtures.staff import make_user, reloaded, sign_in

UNKNOWN = '<meta name="time-zone" content=""'


def report(client, zone, **headers):
    return client.post("/time-zone", json={"zone": zone}, headers=headers)


def test_a_patients_zone_is_kept_for_the_session_and_the_pages_say_so(client):
    page = client.get("/requests/new").text
    assert '<meta name="time-zone" content="" data-report-url="/time-zone">' in page
    assert "js/time-zone.js" in page
    assert report(client, "Europe/Berlin", **{"Sec-Fetch-Site": "same-origin"}).status_code == 204
    assert UNKNOWN.replace('""', '"Europe/Berlin"') in client.get("/requests/new").text


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", None, 42])
def test_anything_but_an_iana_zone_is_refused(client, zone):
    response = report(client, zone)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert UNKNOWN in client.get("/requests/new").text


def test_only_this_sites_pages_can_report(client):
    assert report(client, "Europe/Berlin", **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert report(client, "Europe/Berlin", Origin="https://evil.example").status_code == 403
    # A plain form post (which any site can make) is not JSON.
    assert client.post("/time-zone", data={"zone": "Europe/Berlin"}).status_code == 403
    assert UNKNOWN in client.get("/requests/new").text


def test_a_staff_users_zone_is_saved_and_their_pages_show_times_in_it(client, db_session):
    admin = make_user(ADMIN)
    admin.last_login_at = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
    db.session.commit()
    sign_in(client, admin)
    assert "4 March 2026, 09:30 UTC" in client.get("/staff/users").text  # not known yet: UTC, named
    assert report(client, "Europe/Moscow").status_code == 204
    assert reloaded(admin).time_zone == "Europe/Moscow"
    # Another browser of theirs (no zone in its session) shows the saved one.
    with client.session_transaction() as session:
        session.pop("time_zone", None)
    page = client.get("/staff/users").text
    assert "4 March 2026, 12:30 MSK" in page and UNKNOWN.replace('""', '"Europe/Moscow"') in page


def test_signing_in_saves_the_zone_the_sign_in_page_reported(app, db_session):
    from flask import session

    from service.accounts import guard

    user = make_user()
    with app.test_request_context():
        session["time_zone"] = "Asia/Almaty"
        guard.begin_session(user)
    assert reloaded(user).time_zone == "Asia/Almaty"
