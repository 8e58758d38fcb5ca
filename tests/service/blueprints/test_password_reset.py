"""Admins e-mail a staff or clinic user a one-time link from /staff/users to set a new
password (and second factor): admins only, the user signed out at once, the link good
once and for its time only, the newest link the only one, the page in the user's own
layout, and every step logged with who took it."""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pyotp
import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from service.accounts import password_reset, sessions, totp
from service.accounts.roles import ADMIN, CLINIC, COORDINATOR
from service.extensions import db
from service.models import Clinic, User, UserSession
from service.notifications import transport
from service.outbox import Job
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.staff import PASSWORD, make_user, reloaded, sign_in
from tests.service.accounts.support import fresh_limits  # noqa: F401

NEW_PASSWORD = "a new and rather long passphrase"


@pytest.fixture
def sent(monkeypatch) -> list:
    """The e-mails the reset jobs send, instead of sending them."""
    messages: list = []
    monkeypatch.setattr(transport, "send", lambda message, mail_url: messages.append(message))
    return messages


@pytest.fixture
def admin_client(client, admin):
    sign_in(client, admin)
    return client


def _send_reset(client, user: User) -> None:
    response = client.post(f"/staff/users/{user.id}/reset")
    assert response.status_code == 303, response.status_code
    assert run_pending(Job.SEND_RESET_LINK) == 1


def _link(message, side: str) -> str:
    url = re.search(rf"http://\S+/{side}/reset/\S+", message.get_body(("plain",)).get_content()).group(0)
    return urlsplit(url).path


def _live_sessions(user: User) -> int:
    return len(list(db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    )))


def _sign_in_with(client, email: str, password: str):
    return client.post("/staff/login", data={"email": email, "password": password})


def test_only_admins_can_send_a_reset_link(client, coordinator, db_session):
    target = make_user(COORDINATOR)
    assert client.post(f"/staff/users/{target.id}/reset").status_code in (302, 303)
    sign_in(client, coordinator)
    assert client.post(f"/staff/users/{target.id}/reset").status_code == 403
    assert run_pending(Job.SEND_RESET_LINK) == 0
    assert reloaded(target).reset_nonce_hash is None


def test_the_users_page_offers_the_reset_and_the_sign_in_page_says_to_ask_for_it(admin_client, coordinator):
    page = admin_client.get("/staff/users").text
    assert f'action="/staff/users/{coordinator.id}/reset' in page and "Send reset link" in page
    admin_client.post("/staff/logout")
    assert "Ask an administrator to e-mail you a reset link." in admin_client.get("/staff/login").text


def test_a_staff_user_resets_their_password_once_and_is_signed_out_everywhere(
    admin_client, admin, coordinator, sent, caplog, client
):
    sessions.create(coordinator)
    db.session.commit()
    assert _live_sessions(coordinator) == 1
    with caplog.at_level(logging.INFO, logger="service.accounts.password_reset"):
        _send_reset(admin_client, coordinator)
    assert _live_sessions(coordinator) == 0
    assert f"password reset link for staff user {coordinator.email} requested by {admin.email}" in caplog.text
    [message] = sent
    assert message["To"] == coordinator.email
    link = _link(message, "staff")

    admin_client.post("/staff/logout")
    page = client.get(link)
    assert page.status_code == 200
    assert "Set a new password" in page.text and coordinator.email in page.text
    assert 'class="staff-' in page.text or "staff console" in page.text.lower()
    assert "New second factor" not in page.text

    mismatch = client.post(link, data={"password": NEW_PASSWORD, "confirm": "something else entirely"})
    assert mismatch.status_code == 422 and "The two passwords are not the same." in mismatch.text
    done = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.location.endswith("/staff/login")
    assert reloaded(coordinator).reset_nonce_hash is None

    assert client.get(link).status_code == 410
    again = client.post(link, data={"password": "yet another long passphrase", "confirm": "yet another long passphrase"})
    assert again.status_code == 410 and password_reset.NOT_VALID in again.text
    assert _sign_in_with(client, coordinator.email, PASSWORD).status_code == 401
    assert _sign_in_with(client, coordinator.email, NEW_PASSWORD).status_code == 303


def test_a_clinic_user_gets_the_clinic_page(admin_client, sent, client, db_session):
    clinic = db.session.scalars(select(Clinic).order_by(Clinic.slug)).first()
    desk = make_user(CLINIC, email="desk@clinic.example", clinic_id=clinic.id)
    _send_reset(admin_client, desk)
    link = _link(sent[-1], "clinic")
    admin_client.post("/staff/logout")
    page = client.get(link)
    assert page.status_code == 200 and clinic.name in page.text
    assert client.get(link.replace("/clinic/", "/staff/")).location.endswith(link)
    done = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.location.endswith("/clinic/login")
    response = client.post("/clinic/login", data={"email": desk.email, "password": NEW_PASSWORD})
    assert response.status_code == 303


def test_a_user_with_a_second_factor_sets_up_a_new_one_on_the_page(admin_client, sent, client, db_session):
    old_secret = totp.new_secret()
    user = make_user(COORDINATOR, totp_secret=old_secret)
    _send_reset(admin_client, user)
    link = _link(sent[-1], "staff")
    admin_client.post("/staff/logout")
    page = client.get(link).text
    assert "New second factor" in page and 'src="data:image/svg+xml' in page
    secret = re.search(r'<code class="totp-key">([A-Z2-7]+)</code>', page).group(1)
    assert secret != old_secret

    missing = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert missing.status_code == 422 and "Enter the 6-digit code" in missing.text
    wrong = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                    "code": pyotp.TOTP(old_secret).now()})
    assert wrong.status_code == 422 and reloaded(user).reset_nonce_hash is not None
    code = pyotp.TOTP(secret).at(datetime.now(timezone.utc))
    assert client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "code": code}).status_code == 303
    assert reloaded(user).totp_secret == secret


def test_an_administrator_without_a_factor_gets_one_when_admins_must_have_one(admin_client, sent, client, app,
                                                                               monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_ADMIN_TOTP", True)
    other = make_user(ADMIN)
    _send_reset(admin_client, other)
    assert "New second factor" in client.get(_link(sent[-1], "staff")).text


def test_only_the_newest_link_works(admin_client, coordinator, sent, client):
    _send_reset(admin_client, coordinator)
    _send_reset(admin_client, coordinator)
    first, second = (_link(message, "staff") for message in sent)
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200


def test_an_expired_link_is_refused(admin_client, coordinator, sent, client, monkeypatch):
    assert admin_client.post(f"/staff/users/{coordinator.id}/reset").status_code == 303
    with monkeypatch.context() as patch:
        issued_at = int(time.time()) - int(password_reset.LINK_TTL.total_seconds()) - 5
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: issued_at)
        assert run_pending(Job.SEND_RESET_LINK) == 1
    response = client.post(_link(sent[-1], "staff"), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 410 and password_reset.EXPIRED in response.text
    assert reloaded(coordinator).reset_nonce_hash is not None


def test_a_disabled_account_gets_no_link(admin_client, sent, db_session):
    gone = make_user(COORDINATOR, active=False)
    response = admin_client.post(f"/staff/users/{gone.id}/reset", follow_redirects=True)
    assert "is disabled" in response.text
    assert run_pending(Job.SEND_RESET_LINK) == 0 and not sent


def test_an_admin_cannot_reset_their_own_account_from_the_page(admin_client, admin, sent):
    assert f'action="/staff/users/{admin.id}/reset' not in admin_client.get("/staff/users").text
    response = admin_client.post(f"/staff/users/{admin.id}/reset", follow_redirects=True)
    assert "ask another administrator" in response.text
    assert run_pending(Job.SEND_RESET_LINK) == 0
