"""Error pages in the layout of where they are reached: the staff console's under
/staff, the clinic portal's under /clinic, the public one elsewhere; a bare 403 says
what to do instead of Werkzeug's words."""
from __future__ import annotations

from sqlalchemy import select

from service.accounts.roles import CLINIC
from service.extensions import db
from service.models import Clinic
from tests.fixtures.staff import make_user, sign_in

WERKZEUG_403 = "You don't have the permission to access the requested resource."


def test_a_403_in_the_staff_console_has_the_consoles_layout_and_says_what_to_do(staff_client):
    response = staff_client.get("/staff/users")
    assert response.status_code == 403
    page = response.text
    assert 'class="staff"' in page and 'class="staff-nav"' in page and "Staff console" in page
    assert "<h1>Forbidden</h1>" in page
    assert "Your account cannot open this page. Ask an administrator if you need it." in page
    assert WERKZEUG_403 not in page
    assert 'href="/staff/"' in page  # back to the console


def test_a_404_in_the_staff_console_keeps_its_own_words_in_the_consoles_layout(staff_client):
    response = staff_client.get("/staff/cases/MT-2000-999999")
    assert response.status_code == 404
    assert 'class="staff-nav"' in response.text and "There is no case MT-2000-999999." in response.text


def test_an_error_in_the_clinic_portal_has_the_portals_layout(client, db_session):
    clinic = db.session.scalars(select(Clinic).order_by(Clinic.slug)).first()
    sign_in(client, make_user(CLINIC, clinic_id=clinic.id))
    response = client.get("/clinic/referrals/999999")
    assert response.status_code == 404
    page = response.text
    assert 'class="clinic"' in page and "Clinic portal" in page and 'class="clinic-nav"' in page
    assert clinic.name in page and 'href="/clinic/referrals"' in page
    assert 'class="staff-nav"' not in page


def test_a_public_404_keeps_the_public_layout(client, db_session):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert 'class="staff-nav"' not in response.text and 'class="clinic-nav"' not in response.text
    assert "Back to the start page" in response.text
