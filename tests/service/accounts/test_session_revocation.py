"""Server-side sessions: a copy of a staff or clinic user's session cookie (as a thief
would take it from a browser, and replay from another) stops working as soon as the
session ends: sign-out, "sign out everywhere" by the user or an admin, deactivation, a
new password or second factor, the absolute lifetime, the idle timeout. Each test takes
the cookie from one test client's jar and sets it on another."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.accounts import sessions, signin_links
from service.accounts.roles import ADMIN, CLINIC, COORDINATOR
from service.extensions import db
from service.models import Clinic, User, UserSession
from tests.fixtures.staff import PASSWORD, make_user, sign_in

NEW_PASSWORD = "a brand new password, never used"


@dataclass(frozen=True)
class Door:
    """One console: where its users sign in and out, and a page behind the sign-in."""

    name: str
    login: str
    page: str
    logout: str
    everywhere: str


STAFF = Door("staff", "/staff/login", "/staff/cases", "/staff/logout", "/staff/sessions/revoke")
CLINIC_PORTAL = Door("clinic", "/clinic/login", "/clinic/referrals", "/clinic/logout", "/clinic/sessions/revoke")


@pytest.fixture(params=[STAFF, CLINIC_PORTAL], ids=lambda door: door.name)
def door(request) -> Door:
    return request.param


def _clinic() -> Clinic:
    return db.session.scalars(select(Clinic).order_by(Clinic.slug)).first()


def _user_for(door: Door, **fields) -> User:
    if door is STAFF:
        return make_user(COORDINATOR, **fields)
    return make_user(CLINIC, clinic_id=_clinic().id, **fields)


@pytest.fixture
def user(door, db_session) -> User:
    return _user_for(door)


@pytest.fixture
def clock(monkeypatch):
    """The sessions' clock, moved by hand."""

    class Clock:
        now = datetime.now(timezone.utc)

        def advance(self, **delta: float) -> None:
            self.now += timedelta(**delta)

    clock = Clock()
    monkeypatch.setattr(sessions, "_now", lambda: clock.now)
    return clock


def _sign_in(app: Flask, door: Door, user: User) -> FlaskClient:
    """A browser signed in through the console's own sign-in form."""
    browser = app.test_client()
    response = browser.post(door.login, data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return browser


def _copy(app: Flask, browser: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `browser`'s session cookie, byte for byte."""
    cookie = browser.get_cookie("session", domain=app.config["SERVER_NAME"])
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value, domain=cookie.domain)
    return thief


def _signed_out(response, door: Door) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == door.login


def _admin(app: Flask) -> FlaskClient:
    admin = app.test_client()
    sign_in(admin, make_user(ADMIN))
    return admin


def _records(user: User) -> list[UserSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)))


def _cli(app: Flask, *args: str, input: str | None = None):
    result = app.test_cli_runner().invoke(args=["users", *args], input=input)
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return result


# --- one session ends ----------------------------------------------------------------

def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(app, door, user):
    """...and only that session: the user's other browser stays signed in."""
    browser, phone = _sign_in(app, door, user), _sign_in(app, door, user)
    thief = _copy(app, browser)
    assert thief.get(door.page).status_code == 200, "the copy works while the session lives"

    assert browser.post(door.logout).status_code == 303

    assert _signed_out(thief.get(door.page), door)
    assert _signed_out(browser.get(door.page), door)
    assert phone.get(door.page).status_code == 200
    ended, live = _records(user)
    assert (ended.revoked_reason, ended.revoked_by) == (sessions.SIGNED_OUT, user.email)
    assert live.revoked_at is None


def test_signing_in_again_in_the_same_browser_ends_the_session_its_cookie_held(app, db_session):
    """A staff member signs in to the clinic portal with a clinic account in the same
    browser: the staff session the cookie held is revoked, not just forgotten."""
    staff, clinic_user = _user_for(STAFF), _user_for(CLINIC_PORTAL)
    browser = _sign_in(app, STAFF, staff)
    thief = _copy(app, browser)
    assert browser.post("/clinic/login", data={"email": clinic_user.email, "password": PASSWORD}).status_code == 303

    assert _signed_out(thief.get(STAFF.page), STAFF)
    assert browser.get(CLINIC_PORTAL.page).status_code == 200
    [record] = _records(staff)
    assert record.revoked_reason == sessions.REPLACED


def test_each_way_of_signing_in_starts_a_session_of_its_own(app, db_session):
    """Password, password and code, the clinic's emailed link: each records a session
    with a new token in a new cookie, and signing out ends it."""
    totp_user = _user_for(STAFF, totp_secret=pyotp.random_base32())
    browser = app.test_client()
    browser.post("/staff/login", data={"email": totp_user.email, "password": PASSWORD})
    assert browser.post("/staff/login/code", data={"code": pyotp.TOTP(totp_user.totp_secret).now()}).status_code == 303
    link_user = _user_for(CLINIC_PORTAL)
    linked = app.test_client()
    token = signin_links.issue(link_user)
    db.session.commit()
    assert linked.post(f"/clinic/login/link/{token}").status_code == 303
    password_user = _user_for(STAFF)
    first, second = _sign_in(app, STAFF, password_user), _sign_in(app, STAFF, password_user)

    hashes = {record.token_hash for user in (totp_user, link_user, password_user) for record in _records(user)}
    assert len(hashes) == 4
    assert first.get_cookie("session", domain="medtour.test").value != second.get_cookie(
        "session", domain="medtour.test").value
    for client, door in ((browser, STAFF), (linked, CLINIC_PORTAL)):
        thief = _copy(app, client)
        assert thief.get(door.page).status_code == 200
        client.post(door.logout)
        assert _signed_out(thief.get(door.page), door)


# --- every session of the user ends -----------------------------------------------------

def test_sign_out_everywhere_ends_every_session_of_the_user(app, door, user, caplog):
    caplog.set_level(logging.INFO, "service.accounts.sessions")
    laptop, phone = _sign_in(app, door, user), _sign_in(app, door, user)
    thief = _copy(app, phone)
    bystander = _sign_in(app, door, _user_for(door))
    page = laptop.get(door.page)
    assert f'action="{door.everywhere}"' in page.text and "Sign out everywhere" in page.text

    response = laptop.post(door.everywhere)

    assert response.status_code == 303 and response.location == door.login
    assert "You have signed out everywhere" in laptop.get(door.login).text
    for client in (laptop, phone, thief):
        assert _signed_out(client.get(door.page), door)
    assert bystander.get(door.page).status_code == 200, "only this user's sessions end"
    assert {(r.revoked_reason, r.revoked_by) for r in _records(user)} == {(sessions.EVERYWHERE, user.email)}
    assert f"staff user {user.email} signed out everywhere (signed_out_everywhere, 2 sessions) by {user.email}" \
        in caplog.text


def test_an_admin_signs_a_user_out_everywhere(app, door, user, caplog):
    caplog.set_level(logging.INFO, "service.accounts.sessions")
    thief = _copy(app, _sign_in(app, door, user))
    admin = _admin(app)
    listing = admin.get("/staff/users").text
    assert f"Sign {user.email} out everywhere" in listing

    response = admin.post(f"/staff/users/{user.id}/sessions/revoke")

    assert response.status_code == 303
    assert f"{user.email} was signed out everywhere (1 session ended)." in admin.get("/staff/users").text
    assert _signed_out(thief.get(door.page), door)
    assert admin.get("/staff/users").status_code == 200, "the admin's own session goes on"
    [record] = _records(user)
    assert record.revoked_reason == sessions.EVERYWHERE and record.revoked_by.startswith("admin")
    assert f"staff user {user.email} signed out everywhere (signed_out_everywhere, 1 session) by admin" in caplog.text


def test_an_admin_signing_themselves_out_everywhere_is_signed_out_here_too(app, db_session):
    me = make_user(ADMIN)
    browser = _sign_in(app, STAFF, me)
    thief = _copy(app, browser)
    response = browser.post(f"/staff/users/{me.id}/sessions/revoke")
    assert response.status_code == 303 and response.location == "/staff/login"
    assert _signed_out(browser.get("/staff/users"), STAFF) and _signed_out(thief.get("/staff/users"), STAFF)


def test_deactivating_ends_every_session_for_good(app, door, user):
    """Disabling already locks the user out; enabling them again must not bring the old
    sessions (and a thief's copy) back."""
    thief = _copy(app, _sign_in(app, door, user))
    admin = _admin(app)
    assert admin.post(f"/staff/users/{user.id}/disable").status_code == 303
    assert admin.post(f"/staff/users/{user.id}/enable").status_code == 303

    assert _signed_out(thief.get(door.page), door)
    [record] = _records(user)
    assert record.revoked_reason == sessions.DISABLED and record.revoked_by.startswith("admin")
    assert _sign_in(app, door, user).get(door.page).status_code == 200, "a new sign-in works"


def test_a_new_password_ends_every_session(app, door, user):
    thief = _copy(app, _sign_in(app, door, user))
    _cli(app, "password", user.email, "--password-stdin", input=NEW_PASSWORD + "\n")

    assert _signed_out(thief.get(door.page), door)
    [record] = _records(user)
    assert (record.revoked_reason, record.revoked_by) == (sessions.PASSWORD_SET, "the command line")


def test_a_new_second_factor_ends_every_session(app, door, db_session):
    user = _user_for(door, totp_secret=pyotp.random_base32())
    browser = app.test_client()
    browser.post(door.login, data={"email": user.email, "password": PASSWORD})
    if door is STAFF:
        browser.post("/staff/login/code", data={"code": pyotp.TOTP(user.totp_secret).now()})
    thief = _copy(app, browser)
    assert thief.get(door.page).status_code == 200

    _cli(app, "totp", user.email, "--replace")

    assert _signed_out(thief.get(door.page), door)
    assert [r.revoked_reason for r in _records(user)] == [sessions.TOTP_SET]


def test_the_command_line_signs_a_user_out_everywhere(app, door, user):
    thief = _copy(app, _sign_in(app, door, user))
    result = _cli(app, "signout", user.email)
    assert f"signed out {user.email} everywhere (1 session ended)" in result.output
    assert _signed_out(thief.get(door.page), door)


# --- sessions end by themselves -----------------------------------------------------------

def test_a_session_ends_after_its_lifetime_however_active(app, door, user, clock):
    """Used every 25 minutes (inside the idle timeout), the session still ends
    STAFF_SESSION_MAX_HOURS after sign-in, for the browser and for the copy."""
    browser = _sign_in(app, door, user)
    thief = _copy(app, browser)
    lifetime = timedelta(hours=app.config["STAFF_SESSION_MAX_HOURS"])
    started = clock.now
    while clock.now + timedelta(minutes=25) < started + lifetime:
        clock.advance(minutes=25)
        assert thief.get(door.page).status_code == 200
    clock.advance(minutes=25)

    refused = thief.get(door.page)
    assert _signed_out(refused, door)
    assert "Sessions last at most 12 hours: sign in again." in thief.get(refused.location).text
    assert _signed_out(browser.get(door.page), door)


def test_the_lifetime_is_fixed_at_sign_in(app, door, user, clock, monkeypatch):
    thief = _copy(app, _sign_in(app, door, user))
    monkeypatch.setitem(app.config, "STAFF_SESSION_MAX_HOURS", 1000)
    monkeypatch.setitem(app.config, "STAFF_SESSION_IDLE_MINUTES", 100_000)
    clock.advance(hours=12, minutes=1)
    assert _signed_out(thief.get(door.page), door)


def test_an_idle_session_ends_for_every_copy_of_the_cookie(app, door, user, clock):
    """The idle timer is the server's: a copy of the cookie, however recently copied,
    cannot outlive a session nobody used for STAFF_SESSION_IDLE_MINUTES."""
    browser = _sign_in(app, door, user)
    thief = _copy(app, browser)
    idle = timedelta(minutes=app.config["STAFF_SESSION_IDLE_MINUTES"])
    clock.advance(seconds=idle.total_seconds() + 1)

    refused = thief.get(door.page)
    assert _signed_out(refused, door)
    assert "signed out after a period of inactivity" in thief.get(refused.location).text
    assert _signed_out(browser.get(door.page), door)


def test_using_the_session_keeps_it_alive_and_is_recorded_once_a_minute(app, door, user, clock):
    browser = _sign_in(app, door, user)
    [record] = _records(user)
    signed_in_at = record.last_seen_at
    clock.advance(seconds=30)
    assert browser.get(door.page).status_code == 200
    assert _records(user)[0].last_seen_at == signed_in_at, "no write within the minute"
    clock.advance(seconds=31)
    assert browser.get(door.page).status_code == 200
    assert _records(user)[0].last_seen_at == clock.now
    clock.advance(minutes=app.config["STAFF_SESSION_IDLE_MINUTES"] - 1)
    assert browser.get(door.page).status_code == 200, "idle counts from the last use"


def test_a_revoked_session_is_not_revived_by_use(app, door, user, clock):
    """The touch is conditional: a revocation committed between the check and the write
    stays."""
    browser = _sign_in(app, door, user)
    [record] = _records(user)
    sessions.revoke(record, sessions.SIGNED_OUT, actor="test")
    clock.advance(minutes=2)
    sessions.touch(record)
    db.session.commit()
    assert _records(user)[0].last_seen_at < clock.now
    assert _signed_out(browser.get(door.page), door)


def test_a_cookie_without_a_live_session_signs_nobody_in(app, door, user):
    """Flask-Login's keys alone (a cookie from before server-side sessions, or one whose
    token was tampered with) are not a session."""
    browser = _sign_in(app, door, user)
    with browser.session_transaction() as cookie:
        cookie[sessions.KEY] = "not-a-token"
    assert _signed_out(browser.get(door.page), door)
    with browser.session_transaction() as cookie:
        cookie.pop(sessions.KEY)
    assert _signed_out(browser.get(door.page), door)


def test_a_session_belongs_to_its_user(app, door, user):
    """The token and Flask-Login's user id must name the same user."""
    browser = _sign_in(app, door, user)
    other = _user_for(door)
    with browser.session_transaction() as cookie:
        cookie["_user_id"] = str(other.id)
    assert _signed_out(browser.get(door.page), door)
