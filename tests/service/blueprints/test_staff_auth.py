"""Staff sign-in, sign-out, lockouts, the second factor, sessions and the users page."""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from argon2 import PasswordHasher
from flask import url_for

from service.accounts import sessions, signin
from service.accounts.passwords import needs_rehash
from service.accounts.roles import ADMIN, COORDINATOR
from service.extensions import db
from service.models import User, UserSession
from tests.fixtures.staff import PASSWORD, make_user, reloaded, sign_in, signed_in_id
from tests.service.accounts.support import fresh_limits  # noqa: F401

LOCKED_15 = "Too many failed sign-ins. Try again in 15 minutes."


def _login(client, email, password=PASSWORD, **extra):
    return client.post("/staff/login", data={"email": email, "password": password, **extra})


def _home(app) -> str:
    """Where /staff/ leads a signed-in coordinator: the queue if it exists, else the dashboard."""
    endpoint = "staff_queue.index" if "staff_queue.index" in app.view_functions else "staff_dashboard.index"
    with app.test_request_context():
        return url_for(endpoint, _external=False)


# --- signing in and out ------------------------------------------------------------------

def test_sign_in_with_email_and_password(client, coordinator):
    coordinator.failed_logins = 3
    db.session.commit()
    page = client.get("/staff/login")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert 'autocomplete="current-password"' in page.text

    response = _login(client, coordinator.email.upper())
    assert response.status_code == 303
    assert response.location == "/staff/"
    assert signed_in_id(client) == str(coordinator.id)
    with client.session_transaction() as session:
        record = sessions.find(session[sessions.KEY])
    assert record.user_id == coordinator.id and record.revoked_at is None
    assert datetime.now(timezone.utc) - record.last_seen_at < timedelta(minutes=1)
    user = reloaded(coordinator)
    assert user.failed_logins == 0
    assert user.last_login_at is not None
    assert datetime.now(timezone.utc) - user.last_login_at < timedelta(minutes=1)


def test_wrong_password_and_unknown_email_get_the_same_message(client, coordinator):
    wrong = _login(client, coordinator.email, "not the password at all")
    unknown = _login(client, "nobody@medtour.example")
    assert wrong.status_code == unknown.status_code == 401
    assert signin.INVALID in wrong.text and signin.INVALID in unknown.text
    assert wrong.text.replace(coordinator.email, "X") == unknown.text.replace("nobody@medtour.example", "X")
    assert signed_in_id(client) is None
    assert reloaded(coordinator).failed_logins == 1


def test_empty_fields_are_asked_for(client):
    response = client.post("/staff/login", data={"email": "", "password": ""})
    assert response.status_code == 422
    assert "Enter your email address." in response.text
    assert "Enter your password." in response.text


def test_signing_in_starts_a_new_session(client, coordinator):
    with client.session_transaction() as session:
        session["left_over"] = "from before signing in"
    _login(client, coordinator.email)
    with client.session_transaction() as session:
        assert "left_over" not in session


def test_signed_in_user_visiting_the_login_page_goes_to_the_console(client, coordinator):
    sign_in(client, coordinator)
    assert client.get("/staff/login").location == "/staff/"


@pytest.mark.parametrize(("next_url", "expected"), [
    ("/staff/users?page=2", "/staff/users?page=2"),
    ("/staff/cases", "/staff/cases"),
    ("https://evil.example/staff/", "/staff/"),
    ("//evil.example/staff/", "/staff/"),
    ("/\\evil.example/staff", "/staff/"),
    ("/s/some-status-token", "/staff/"),
    ("/staff/../s/token", "/staff/"),
    ("/staffing", "/staff/"),
    ("/staff/login", "/staff/"),
])
def test_next_is_honoured_only_for_paths_inside_the_console(client, coordinator, next_url, expected):
    assert _login(client, coordinator.email, next=next_url).location == expected


def test_anonymous_user_is_sent_to_sign_in_and_back(client, admin):
    response = client.get("/staff/users")
    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/staff/login"
    next_url = parse_qs(location.query)["next"][0]
    form = client.get(response.location)
    assert f'value="{next_url}"' in form.text
    assert _login(client, admin.email, next=next_url).location == next_url


def test_staff_root_leads_to_the_queue_or_the_dashboard(app, client, coordinator):
    anonymous = client.get("/staff/")
    assert urlsplit(anonymous.location).path == "/staff/login"
    sign_in(client, coordinator)
    assert client.get("/staff/").location == _home(app)


def test_staff_root_without_any_page_for_the_role(client, coordinator, monkeypatch):
    from service.blueprints import staff_auth

    monkeypatch.setattr(staff_auth, "staff_nav", lambda: [])
    sign_in(client, coordinator)
    page = client.get("/staff/")
    assert page.status_code == 200
    assert "There is nothing in the console for your role yet." in page.text


def test_sign_out(client, admin):
    sign_in(client, admin)
    assert client.get("/staff/users").status_code == 200
    response = client.post("/staff/logout")
    assert response.status_code == 303
    assert response.location == "/staff/login"
    assert signed_in_id(client) is None
    assert "You have signed out." in client.get("/staff/login").text
    assert urlsplit(client.get("/staff/users").location).path == "/staff/login"


def test_session_cookie_flags(app, client, coordinator, monkeypatch):
    cookie = _login(client, coordinator.email).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie

    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    secure = _login(app.test_client(), coordinator.email).headers["Set-Cookie"]
    assert "Secure" in secure and "HttpOnly" in secure and "SameSite=Lax" in secure


def test_outdated_password_hash_is_upgraded_at_sign_in(client):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    user = make_user(COORDINATOR)
    user.password_hash = weak
    db.session.commit()
    assert _login(client, user.email).status_code == 303
    upgraded = reloaded(user).password_hash
    assert upgraded != weak
    assert not needs_rehash(upgraded)


# --- lockout and rate limits ---------------------------------------------------------------

def test_account_locks_after_five_failures_and_unlocks_after_the_time(client, coordinator):
    for _ in range(signin.MAX_FAILED_SIGNINS - 1):
        assert _login(client, coordinator.email, "wrong password, wrong").status_code == 401
    fifth = _login(client, coordinator.email, "wrong password, wrong")
    assert fifth.status_code == 429
    assert LOCKED_15 in fifth.text

    still_locked = _login(client, coordinator.email)
    assert still_locked.status_code == 429
    assert "Too many failed sign-ins. Try again in" in still_locked.text
    assert signed_in_id(client) is None

    user = reloaded(coordinator)
    assert user.locked_until > datetime.now(timezone.utc) + timedelta(minutes=14)
    user.locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)
    db.session.commit()
    assert _login(client, coordinator.email).status_code == 303
    assert reloaded(coordinator).failed_logins == 0


def test_lockout_message_counts_down_in_minutes(client, coordinator):
    coordinator.locked_until = datetime.now(timezone.utc) + timedelta(seconds=50)
    db.session.commit()
    assert "Try again in 1 minute." in _login(client, coordinator.email).text


def test_unknown_email_locks_out_like_an_account(client, monkeypatch):
    monkeypatch.setattr(signin, "verify_password", lambda *_: False)
    for _ in range(signin.MAX_FAILED_SIGNINS - 1):
        assert _login(client, "ghost@medtour.example").status_code == 401
    fifth = _login(client, "ghost@medtour.example")
    assert fifth.status_code == 429
    assert LOCKED_15 in fifth.text


def test_client_address_is_limited_across_accounts(client, coordinator, monkeypatch):
    monkeypatch.setattr(signin, "verify_password", lambda *_: False)
    for number in range(20):
        assert _login(client, f"guess{number}@medtour.example").status_code == 401
    refused = _login(client, coordinator.email)
    assert refused.status_code == 429
    assert LOCKED_15 in refused.text
    assert 800 < int(refused.headers["Retry-After"]) <= 900
    assert reloaded(coordinator).failed_logins == 0, "the address limit applies before the password is checked"


def test_successful_sign_ins_do_not_use_up_the_address_limit(client, coordinator, monkeypatch):
    monkeypatch.setattr(signin, "verify_password", lambda *_: True)
    for _ in range(25):
        assert _login(client, coordinator.email).status_code == 303
        with client.session_transaction() as session:
            session.clear()


# --- second factor -------------------------------------------------------------------------

@pytest.fixture
def totp_user(db_session) -> User:
    return make_user(COORDINATOR, totp_secret=pyotp.random_base32())


def test_second_factor_asks_for_the_code_before_signing_in(client, totp_user):
    first = _login(client, totp_user.email, next="/staff/users")
    assert first.status_code == 303
    assert first.location == "/staff/login/code"
    assert signed_in_id(client) is None
    assert 'autocomplete="one-time-code"' in client.get("/staff/login/code").text

    wrong = client.post("/staff/login/code", data={"code": "000000" if pyotp.TOTP(totp_user.totp_secret).now() != "000000" else "111111"})
    assert wrong.status_code == 401
    assert signin.WRONG_CODE in wrong.text
    assert reloaded(totp_user).failed_logins == 1

    code = pyotp.TOTP(totp_user.totp_secret).now()
    done = client.post("/staff/login/code", data={"code": f"{code[:3]} {code[3:]}"})
    assert done.status_code == 303
    assert done.location == "/staff/users"
    assert signed_in_id(client) == str(totp_user.id)
    assert reloaded(totp_user).failed_logins == 0


def test_a_code_cannot_be_used_twice(app, client, totp_user):
    code = pyotp.TOTP(totp_user.totp_secret).now()
    _login(client, totp_user.email)
    assert client.post("/staff/login/code", data={"code": code}).status_code == 303

    other = app.test_client()
    _login(other, totp_user.email)
    replay = other.post("/staff/login/code", data={"code": code})
    assert replay.status_code == 401
    assert signin.USED_CODE in replay.text
    assert signed_in_id(other) is None


def test_wrong_codes_lock_the_account(client, totp_user, monkeypatch):
    monkeypatch.setattr(signin.totp, "matched_step", lambda *_: None)
    _login(client, totp_user.email)
    for _ in range(signin.MAX_FAILED_SIGNINS - 1):
        assert client.post("/staff/login/code", data={"code": "123456"}).status_code == 401
    assert LOCKED_15 in client.post("/staff/login/code", data={"code": "123456"}).text


def test_code_step_without_password_step_or_after_it_expired(client, totp_user):
    assert client.get("/staff/login/code").location == "/staff/login"
    _login(client, totp_user.email)
    with client.session_transaction() as session:
        session["staff_pending_signin"]["until"] = (datetime.now(timezone.utc) - timedelta(seconds=1)).timestamp()
        session.modified = True
    code = pyotp.TOTP(totp_user.totp_secret).now()
    expired = client.post("/staff/login/code", data={"code": code})
    assert expired.location == "/staff/login"
    assert signed_in_id(client) is None
    assert signin.PENDING_EXPIRED in client.get("/staff/login").text


def test_admins_need_a_second_factor_when_configured(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_ADMIN_TOTP", True)
    bare_admin = make_user(ADMIN)
    refused = _login(client, bare_admin.email)
    assert refused.status_code == 403
    assert "Ask another administrator to enrol you" in refused.text
    assert signed_in_id(client) is None

    enrolled = make_user(ADMIN, totp_secret=pyotp.random_base32())
    assert _login(client, enrolled.email).location == "/staff/login/code"
    coordinator = make_user(COORDINATOR)
    assert _login(app.test_client(), coordinator.email).status_code == 303


def test_admins_without_second_factor_sign_in_when_not_required(client, admin):
    assert _login(client, admin.email).status_code == 303


# --- losing access -------------------------------------------------------------------------

def test_disabled_user_loses_access_mid_session(client, admin):
    sign_in(client, admin)
    assert client.get("/staff/users").status_code == 200
    admin.active = False
    db.session.commit()
    response = client.get("/staff/users")
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/staff/login"


def test_disabled_user_cannot_sign_in(client):
    user = make_user(COORDINATOR, active=False)
    refused = _login(client, user.email)
    assert refused.status_code == 403
    assert signin.DISABLED in refused.text
    assert signin.INVALID in _login(client, user.email, "a wrong password here").text


def test_inactivity_signs_the_user_out(app, client, admin):
    sign_in(client, admin)
    idle = timedelta(minutes=app.config["STAFF_SESSION_IDLE_MINUTES"] + 1)
    record = db.session.scalar(db.select(UserSession).filter_by(user_id=admin.id))
    record.last_seen_at = datetime.now(timezone.utc) - idle
    db.session.commit()
    response = client.get("/staff/users")
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/staff/login"
    assert "signed out after a period of inactivity" in client.get(response.location).text
    assert signed_in_id(client) is None


# --- the users page ------------------------------------------------------------------------

def test_users_page_is_for_admins_only(client, coordinator):
    sign_in(client, coordinator)
    assert client.get("/staff/users").status_code == 403
    assert client.post("/staff/users", data={"email": "x@medtour.example"}).status_code == 403
    assert client.post(f"/staff/users/{coordinator.id}/capacity", data={"capacity": 99}).status_code == 403


def test_users_page_lists_accounts(client, admin):
    other = make_user(COORDINATOR, capacity=7, active=False, totp_secret=pyotp.random_base32())
    other.last_login_at = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
    db.session.commit()
    sign_in(client, admin)
    page = client.get("/staff/users")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert admin.email in page.text and other.email in page.text
    assert "Disabled" in page.text and 'value="7"' in page.text
    assert "4 March 2026, 09:30 UTC" in page.text
    assert f"Enable {other.email}" in page.text
    assert f"Disable {admin.email}" not in page.text
    # Live sessions: the admin's own (one), none for the other, who has nothing to end.
    assert re.search(rf"{re.escape(admin.email)}(?:(?!</tr>).)*<td>1 session</td>", page.text, re.S)
    assert re.search(rf"{re.escape(other.email)}(?:(?!</tr>).)*<td>0 sessions</td>", page.text, re.S)
    assert f"Sign {admin.email} out everywhere" in page.text
    assert f"Sign {other.email} out everywhere" not in page.text


def test_users_page_is_paginated(client, admin, monkeypatch):
    from service.accounts import users

    monkeypatch.setattr(users, "PER_PAGE", 2)
    others = [make_user(COORDINATOR, email=f"zz{n}@medtour.example") for n in range(3)]
    sign_in(client, admin)
    first = client.get("/staff/users")
    assert "Page 1 of 2" in first.text and 'href="/staff/users?page=2"' in first.text
    assert others[2].email not in first.text
    last = client.get("/staff/users?page=2")
    assert others[1].email in last.text and others[2].email in last.text
    assert 'href="/staff/users?page=1"' in last.text
    assert "No staff accounts on this page." in client.get("/staff/users?page=9").text


def test_admin_creates_a_user(client, admin, caplog):
    sign_in(client, admin)
    caplog.set_level(logging.INFO, "service.accounts.users")
    response = client.post("/staff/users", data={
        "email": "New.Person@Medtour.example", "role": COORDINATOR, "password": PASSWORD, "capacity": 9,
    })
    assert response.status_code == 303
    created = db.session.scalar(db.select(User).filter_by(email="new.person@medtour.example"))
    assert created.role == COORDINATOR and created.capacity == 9 and created.active
    assert "Account created for new.person@medtour.example" in client.get("/staff/users").text
    assert f"created with role coordinator by {admin.email}" in caplog.text

    duplicate = client.post("/staff/users", data={
        "email": "new.person@medtour.example", "role": COORDINATOR, "password": PASSWORD, "capacity": 9,
    })
    assert duplicate.status_code == 422
    assert "There is already a staff account for new.person@medtour.example." in duplicate.text


def test_create_user_form_errors(client, admin):
    sign_in(client, admin)
    response = client.post("/staff/users", data={
        "email": "not an address", "role": "superuser", "password": "short", "capacity": 9999,
    })
    assert response.status_code == 422
    assert "Enter a valid email address." in response.text
    assert "A password needs at least 12 characters." in response.text
    assert "Capacity must be between 0 and 500 open cases." in response.text
    assert "Not a valid choice" in response.text


def test_admin_disables_enables_and_sets_capacity(client, admin, coordinator, caplog):
    caplog.set_level(logging.INFO, "service.accounts.users")
    coordinator.locked_until = datetime.now(timezone.utc) + timedelta(minutes=10)
    db.session.commit()
    sign_in(client, admin)

    assert client.post(f"/staff/users/{coordinator.id}/disable").status_code == 303
    assert not reloaded(coordinator).active
    assert f"staff user {coordinator.email} disabled by {admin.email}" in caplog.text

    assert client.post(f"/staff/users/{coordinator.id}/enable").status_code == 303
    enabled = reloaded(coordinator)
    assert enabled.active and enabled.locked_until is None

    assert client.post(f"/staff/users/{coordinator.id}/capacity", data={"capacity": 4}).status_code == 303
    assert reloaded(coordinator).capacity == 4
    assert "can now hold 4 open cases" in client.get("/staff/users").text

    client.post(f"/staff/users/{coordinator.id}/capacity", data={"capacity": -1})
    assert reloaded(coordinator).capacity == 4
    assert "Capacity must be between 0 and 500 open cases." in client.get("/staff/users").text

    assert client.post("/staff/users/999999/disable").status_code == 404


def test_admin_cannot_disable_themselves(client, admin):
    sign_in(client, admin)
    client.post(f"/staff/users/{admin.id}/disable")
    assert reloaded(admin).active
    assert "You cannot disable your own account" in client.get("/staff/users").text
