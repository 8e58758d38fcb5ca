"""GET/POST /staff/catalogue: admins see every clinic's load and pause a clinic or change
its capacity; routing follows at once."""
from __future__ import annotations

from sqlalchemy import select

from service.cases import referrals
from service.extensions import db
from service.models import Clinic
from tests.fixtures.staff import sign_in
from tests.fixtures.cases import make_case

SLUG = "yarkon-rehab-tel-aviv"


def clinic(slug: str = SLUG) -> Clinic:
    db.session.expire_all()
    return db.session.scalars(select(Clinic).where(Clinic.slug == slug)).one()


def test_admins_see_every_clinic_with_its_switches(client, admin):
    sign_in(client, admin)
    page = client.get("/staff/catalogue")
    assert page.status_code == 200
    for c in db.session.scalars(select(Clinic)):
        assert f'id="clinic-{c.slug}"' in page.text
        assert f'aria-label="Capacity of {c.name}"'.replace("&", "&amp;") in page.text
    assert 'aria-current="page">Catalogue' in page.text


def test_coordinators_do_not_see_the_catalogue_in_their_menu(client, coordinator):
    sign_in(client, coordinator)
    assert "Catalogue" not in client.get("/staff/cases").text
    assert client.get("/staff/catalogue").status_code == 403


def test_pausing_a_clinic_takes_it_out_of_routing(client, admin):
    sign_in(client, admin)
    case = make_case(treatment=clinic().offers[0].treatment)
    db.session.commit()
    assert SLUG in {s.clinic_slug for s in referrals.suggestions(case)}
    capacity = clinic().capacity
    response = client.post(f"/staff/catalogue/{SLUG}", data={"capacity": str(capacity)})
    assert response.status_code == 303 and response.location.endswith(f"#clinic-{SLUG}")
    assert clinic().accepting is False
    assert "takes no new referrals" in client.get(response.location).text
    assert SLUG not in {s.clinic_slug for s in referrals.suggestions(case)}

    client.post(f"/staff/catalogue/{SLUG}", data={"capacity": str(capacity), "accepting": "y"})
    assert clinic().accepting is True


def test_a_bad_capacity_is_named_and_nothing_changes(client, admin):
    sign_in(client, admin)
    before = clinic().capacity
    response = client.post(f"/staff/catalogue/{SLUG}", data={"capacity": "-3", "accepting": "y"},
                           follow_redirects=True)
    assert "Capacity must be between 0 and 1000 open referrals." in response.text
    assert clinic().capacity == before


def test_an_unknown_clinic_is_404(client, admin):
    sign_in(client, admin)
    assert client.post("/staff/catalogue/no-such-clinic", data={"capacity": "3"}).status_code == 404
