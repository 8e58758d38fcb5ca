"""The form's catalogue: read once per process into plain data, read again after a
change commits, and the patient's choice checked with one query on submission."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from service.catalog import manage, snapshot
from service.extensions import db
from service.models import Clinic, ClinicTreatment, Treatment
from tests.fixtures.forms import valid_request
from tests.fixtures.statements import recorded_statements, touching


def _add_clinic(slug: str, treatment_slug: str, *, commit: bool = True) -> Clinic:
    treatment = db.session.scalar(select(Treatment).where(Treatment.slug == treatment_slug))
    clinic = Clinic(slug=slug, name=f"Clinic {slug}", city="Riga", country="LV", email=f"{slug}@example.org",
                    languages=["en"], accreditations=[])
    clinic.offers.append(ClinicTreatment(treatment=treatment, price_from=Decimal("1000.00"), currency="EUR"))
    db.session.add(clinic)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return clinic


def test_the_form_reads_the_catalogue_once_and_then_only_its_token(app, client):
    client.get("/requests/new")  # whatever an earlier test left cached, it is current now
    with recorded_statements(db.engine) as sent:
        page = client.get("/requests/new")
    assert page.status_code == 200
    assert touching(sent, "clinics") == [] and touching(sent, "treatments") == []
    assert len(touching(sent, "catalog_version")) == 1


def test_entries_are_plain_immutable_data(app_ctx):
    catalog = snapshot.current()
    clinic = catalog.clinics[0]
    assert not isinstance(clinic, Clinic) and isinstance(clinic.offers, tuple)
    try:
        clinic.name = "changed"  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("a catalogue entry could be changed in place")
    assert catalog.clinic(clinic.slug) is clinic


def test_a_committed_clinic_appears_on_the_next_form(app, client):
    client.get("/requests/new")
    _add_clinic("snapshot-new-clinic", valid_request()["treatment"])
    page = client.get("/requests/new")
    assert 'value="snapshot-new-clinic"' in page.text


def test_a_staff_switch_changes_the_token_in_its_own_transaction(app_ctx):
    before = snapshot.current()
    clinic = db.session.scalar(select(Clinic).order_by(Clinic.id))
    manage.set_intake(clinic, accepting=not clinic.accepting, capacity=clinic.capacity, actor="admin@example.org")
    db.session.commit()
    assert snapshot._token() != before.token


def test_a_flush_without_catalogue_changes_keeps_the_token(app_ctx):
    token = snapshot._token()
    clinic = db.session.scalar(select(Clinic).order_by(Clinic.id))
    clinic.name = clinic.name  # loaded, touched, unchanged
    db.session.flush()
    assert snapshot._token() == token


def test_a_rolled_back_change_never_leaves_a_stale_copy(app, client):
    """Change A is cached, then rolled back; a different change B made afterwards must
    not be mistaken for A (a counter would give both the same version)."""
    treatment = valid_request()["treatment"]
    with app.test_request_context():
        _add_clinic("rolled-back-a", treatment, commit=False)
        assert snapshot.current().clinic("rolled-back-a") is not None
        db.session.rollback()
    _add_clinic("kept-b", treatment)
    page = client.get("/requests/new")
    assert 'value="kept-b"' in page.text and 'value="rolled-back-a"' not in page.text


def test_a_submission_checks_the_choice_with_one_query(app, client):
    clinic = db.session.scalar(
        select(Clinic).join(ClinicTreatment).join(Treatment).where(Treatment.slug == valid_request()["treatment"])
    )
    client.get("/requests/new")
    with recorded_statements(db.engine) as sent:
        answer = client.post("/requests/new", data=valid_request(preferred_clinic=clinic.slug, description="short"))
    assert answer.status_code == 422  # the description is too short: validation ran, nothing recorded
    selects = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    assert len(touching(selects, "clinics")) == 1


def test_a_clinic_that_does_not_offer_the_treatment_is_named(app, client):
    other = db.session.scalar(select(Treatment).where(Treatment.slug != valid_request()["treatment"]))
    clinic = _add_clinic("offers-something-else", other.slug)
    answer = client.post("/requests/new", data=valid_request(preferred_clinic=clinic.slug, language="en"))
    assert answer.status_code == 422
    treatment = db.session.scalar(select(Treatment).where(Treatment.slug == valid_request()["treatment"]))
    assert f"{clinic.name} does not offer {treatment.name}" in answer.text
