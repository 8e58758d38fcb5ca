"""`flask --app wsgi users ...`."""
from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from service.accounts.passwords import verify_password
from service.extensions import db
from service.models import Clinic, User
from tests.fixtures.staff import PASSWORD, make_user


@pytest.fixture
def cli(app, db_session):
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        result = runner.invoke(args=["users", *args], input=input)
        db.session.expire_all()
        return result

    return invoke


def _user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def test_create_with_password_from_stdin(cli):
    result = cli("create", "Ops.Lead@Medtour.example", "--role", "admin", "--password-stdin", "--capacity", "3",
                 input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "created ops.lead@medtour.example (admin, capacity 3)" in result.output
    user = _user("ops.lead@medtour.example")
    assert user.role == "admin" and user.capacity == 3 and user.active
    assert verify_password(user.password_hash, PASSWORD)


def test_create_asks_for_the_password_twice_without_echo(cli):
    result = cli("create", "new@medtour.example", "--role", "coordinator", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    user = _user("new@medtour.example")
    assert verify_password(user.password_hash, PASSWORD)
    assert user.capacity == User.__table__.c.capacity.default.arg

    mismatch = cli("create", "other@medtour.example", "--role", "coordinator", input=f"{PASSWORD}\nsomething else\n")
    assert mismatch.exit_code != 0
    assert "do not match" in mismatch.output
    assert _user("other@medtour.example") is None


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["bad-address", "--role", "admin", "--password-stdin"], PASSWORD, "is not a valid email address"),
    (["x@medtour.example", "--role", "admin", "--password-stdin"], "short", "at least 12 characters"),
    (["x@medtour.example", "--role", "owner", "--password-stdin"], PASSWORD, "'owner' is not one of"),
    (["x@medtour.example", "--role", "coordinator", "--password-stdin", "--capacity", "-1"], PASSWORD,
     "not in the range"),
])
def test_create_refuses_bad_input(cli, args, stdin, message):
    result = cli("create", *args, input=stdin + "\n")
    assert result.exit_code != 0
    assert message in result.output
    assert _user("x@medtour.example") is None


def _a_clinic() -> Clinic:
    return db.session.scalars(select(Clinic).order_by(Clinic.slug)).first()


def test_create_a_clinic_account(cli):
    clinic = _a_clinic()
    result = cli("create", "desk@clinic.example", "--role", "clinic", "--clinic", clinic.slug, "--password-stdin",
                 input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert f"created desk@clinic.example (clinic of {clinic.name}, {clinic.slug})" in result.output
    user = _user("desk@clinic.example")
    assert user.role == "clinic" and user.clinic_id == clinic.id and user.active


def test_a_clinic_account_needs_its_clinic(cli):
    result = cli("create", "desk@clinic.example", "--role", "clinic", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 1
    assert "A clinic account needs its clinic" in result.output and "--clinic SLUG" in result.output
    # Refused before asking for a password nobody will use.
    assert "Password" not in result.output
    assert _user("desk@clinic.example") is None


def test_an_unknown_clinic_slug_is_refused_with_the_known_ones(cli):
    result = cli("create", "desk@clinic.example", "--role", "clinic", "--clinic", "no-such-clinic",
                 "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1
    assert "There is no clinic with the slug 'no-such-clinic'" in result.output
    assert "data/catalog.json" in result.output and _a_clinic().slug in result.output
    assert _user("desk@clinic.example") is None


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_a_staff_account_cannot_belong_to_a_clinic(cli, role):
    result = cli("create", "x@medtour.example", "--role", role, "--clinic", _a_clinic().slug, "--password-stdin",
                 input=PASSWORD + "\n")
    assert result.exit_code == 1
    assert f"Only clinic accounts belong to a clinic; a {role} account cannot have one." in result.output
    assert _user("x@medtour.example") is None


def test_create_refuses_a_duplicate_whatever_the_case(cli, coordinator):
    result = cli("create", coordinator.email.upper(), "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1
    assert f"There is already a staff account for {coordinator.email}." in result.output


def test_list_shows_email_role_clinic_active_capacity_and_last_sign_in(cli, db_session):
    from datetime import datetime, timezone

    make_user("admin", email="a@medtour.example", capacity=2)
    signed = make_user("coordinator", email="b@medtour.example", active=False)
    signed.last_login_at = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
    clinic = db.session.scalars(select(Clinic).order_by(Clinic.slug)).first()
    make_user("clinic", email="c@clinic.example", clinic_id=clinic.id)
    db.session.commit()
    lines = cli("list").output.splitlines()
    assert lines[0].split() == ["EMAIL", "ROLE", "CLINIC", "ACTIVE", "CAPACITY", "LAST", "SIGN-IN", "TOTP"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["a@medtour.example"] == ["a@medtour.example", "admin", "-", "yes", "2", "never", "off"]
    assert rows["b@medtour.example"] == ["b@medtour.example", "coordinator", "-", "no", "15", "2026-05-01", "08:00",
                                         "UTC", "off"]
    assert rows["c@clinic.example"][1:3] == ["clinic", clinic.slug]


def test_disable_and_enable(cli, coordinator):
    result = cli("disable", coordinator.email)
    assert result.exit_code == 0 and f"disabled {coordinator.email}" in result.output
    assert not db.session.get(User, coordinator.id).active
    assert cli("enable", coordinator.email).exit_code == 0
    assert db.session.get(User, coordinator.id).active

    unknown = cli("disable", "nobody@medtour.example")
    assert unknown.exit_code == 1
    assert "There is no staff account for nobody@medtour.example." in unknown.output


def test_password_sets_a_new_password_and_lifts_a_lockout(cli, coordinator):
    from datetime import datetime, timedelta, timezone

    coordinator.locked_until = datetime.now(timezone.utc) + timedelta(minutes=5)
    db.session.commit()
    result = cli("password", coordinator.email, "--password-stdin", input="an entirely new passphrase\n")
    assert result.exit_code == 0, result.output
    user = db.session.get(User, coordinator.id)
    assert verify_password(user.password_hash, "an entirely new passphrase")
    assert user.locked_until is None


def test_totp_enrols_and_prints_the_provisioning_uri(cli, coordinator):
    result = cli("totp", coordinator.email)
    assert result.exit_code == 0, result.output
    secret = db.session.get(User, coordinator.id).totp_secret
    assert secret
    assert pyotp.TOTP(secret).provisioning_uri(name=coordinator.email, issuer_name="Medtour") in result.output

    again = cli("totp", coordinator.email)
    assert again.exit_code == 1 and "--replace" in again.output
    assert db.session.get(User, coordinator.id).totp_secret == secret

    assert cli("totp", coordinator.email, "--replace").exit_code == 0
    assert db.session.get(User, coordinator.id).totp_secret not in (None, secret)


def test_signout_ends_every_session_of_the_user(cli, coordinator):
    from service.accounts import sessions

    for _ in range(2):
        sessions.create(coordinator)
    db.session.commit()
    result = cli("signout", coordinator.email)
    assert result.exit_code == 0, result.output
    assert f"signed out {coordinator.email} everywhere (2 sessions ended)" in result.output
    assert sessions.live_counts([coordinator.id]) == {}
    assert cli("signout", "nobody@medtour.example").exit_code == 1
