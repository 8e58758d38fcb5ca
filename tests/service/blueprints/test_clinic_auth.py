"""Clinic users signing in to the clinic portal: with a password, or with a one-time
link sent by email; staff and clinic accounts each kept to their own door."""
from __future__ import annotations

import logging
import re
import time
from urllib.parse import urlsplit

import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from service.accounts import signin, signin_links
from service.accounts.roles import CLINIC, COORDINATOR
from service.blueprints import clinic_auth, staff_auth
from service.extensions import db
from service.models import Clinic, User
from service.notifications import transport
from service.outbox import Job
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.staff import PASSWORD, make_user, reloaded, sign_in, signed_in_id
from tests.service.accounts.support import fresh_limits  # noqa: F401

# Where signing in lands: the portal's front page, which leads to the referral list.
HOME = "/clinic/"
LOCKED_15 = "Too many failed sign-ins. Try again in 15 minutes."


@pytest.fixture
def clinic(db_session) -> Clinic:
    return db.session.scalars(select(Clinic).order_by(Clinic.slug)).first()


@pytest.fixture
def clinic_user(clinic) -> User:
    return make_user(CLINIC, email="desk@clinic.example", clinic_id=clinic.id)


@pytest.fixture
def outbox_mail(monkeypatch) -> list:
    """Messages the sign-in link jobs send, instead of sending them."""
    sent: list = []
    monkeypatch.setattr(transport, "send", lambda message, mail_url: sent.append(message))
    return sent


def _login(client, email, password=PASSWORD, **extra):
    return client.post("/clinic/login", data={"email": email, "password": password, **extra})


def _ask_for_link(client, email: str, **query):
    """Ask for a link, then run the jobs that send it (the worker's part)."""
    response = client.post("/clinic/login/link", query_string=query, data={"email": email})
    run_pending(Job.SEND_SIGNIN_LINK)
    return response


def _link_in(message) -> str:
    """The path (and query) of the sign-in link in an email."""
    url = re.search(r"http://\S+/clinic/login/link/\S+", message.get_body(("plain",)).get_content()).group(0)
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _link_for(client, user: User, outbox_mail: list) -> str:
    assert _ask_for_link(client, user.email).status_code == 200
    return _link_in(outbox_mail[-1])


# --- password ---------------------------------------------------------------------------

def test_clinic_user_signs_in_with_a_password_and_lands_on_the_referrals(client, clinic_user):
    page = client.get("/clinic/login")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert 'href="/clinic/login/link"' in page.text
    response = _login(client, clinic_user.email)
    assert response.status_code == 303
    assert urlsplit(response.location).path == HOME
    assert signed_in_id(client) == str(clinic_user.id)
    assert reloaded(clinic_user).last_login_at is not None
    assert urlsplit(client.get(HOME).location).path == "/clinic/referrals"


def test_staff_cannot_sign_in_to_the_clinic_portal(client, db_session):
    staff = make_user(COORDINATOR)
    response = _login(client, staff.email)
    assert response.status_code == 403
    assert clinic_auth.NOT_A_CLINIC_ACCOUNT in response.text
    assert signed_in_id(client) is None


def test_wrong_password_and_unknown_email_get_the_same_message(client, clinic_user):
    wrong = _login(client, clinic_user.email, "not the password at all")
    unknown = _login(client, "nobody@clinic.example")
    assert wrong.status_code == unknown.status_code == 401
    assert signin.INVALID in wrong.text and signin.INVALID in unknown.text
    assert signed_in_id(client) is None


def test_the_lockout_is_shared_with_the_staff_console(client, clinic_user):
    for _ in range(signin.MAX_FAILED_SIGNINS - 1):
        assert client.post("/staff/login", data={"email": clinic_user.email, "password": "wrong wrong wrong"}
                           ).status_code == 401
    fifth = _login(client, clinic_user.email, "wrong wrong wrong")
    assert fifth.status_code == 429 and LOCKED_15 in fifth.text
    assert _login(client, clinic_user.email).status_code == 429, "locked even with the right password"
    assert signed_in_id(client) is None


def test_clinic_user_at_the_staff_console_is_sent_to_the_clinic_portal(client, clinic_user):
    response = client.post("/staff/login", data={"email": clinic_user.email, "password": PASSWORD})
    assert response.status_code == 403
    assert staff_auth.CLINIC_ACCOUNT in response.text
    assert signed_in_id(client) is None

    sign_in(client, clinic_user)
    again = client.get("/staff/login")
    assert again.status_code == 302 and urlsplit(again.location).path == "/clinic/login"
    assert urlsplit(client.get("/clinic/login").location).path == HOME


# --- one-time link ------------------------------------------------------------------------

def test_a_link_is_emailed_and_signs_in_once(app, client, clinic_user, outbox_mail):
    form = client.get("/clinic/login/link")
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"

    asked = _ask_for_link(client, clinic_user.email.upper())
    assert asked.status_code == 200
    assert f"If {clinic_user.email.upper()} belongs to a clinic account, we have sent it a sign-in link" in asked.text
    [message] = outbox_mail
    assert message["To"] == clinic_user.email
    assert message["Subject"] == "Medtour clinic portal: your sign-in link"
    body = message.get_body(("plain",)).get_content()
    assert f"{app.config['BASE_URL']}/clinic/login/link/" in body and "30 minutes" in body
    link = _link_in(message)
    assert reloaded(clinic_user).signin_nonce_hash is not None

    # Opening the link (as mail scanners do) signs nobody in and uses nothing up.
    confirm = client.get(link)
    assert confirm.status_code == 200 and confirm.headers["Cache-Control"] == "no-store"
    assert f"Sign in as <strong>{clinic_user.email}</strong>" in confirm.text
    assert signed_in_id(client) is None

    used = client.post(link)
    assert used.status_code == 303 and urlsplit(used.location).path == HOME
    assert signed_in_id(client) == str(clinic_user.id)
    assert reloaded(clinic_user).signin_nonce_hash is None

    with client.session_transaction() as session:
        session.clear()
    for again in (client.post(link), client.get(link)):
        assert again.status_code == 410
        assert signin_links.NOT_VALID in again.text
        assert 'action="/clinic/login/link"' in again.text, "a way to ask for a new one"
    assert signed_in_id(client) is None


def test_the_link_takes_the_user_where_they_were_going(client, clinic_user, outbox_mail):
    _ask_for_link(client, clinic_user.email, next="/clinic/referrals/7")
    link = _link_in(outbox_mail[-1])
    assert "next=" in link
    assert client.post(link).location == "/clinic/referrals/7"


def test_the_page_reads_the_same_whether_or_not_the_address_has_an_account(client, clinic_user, outbox_mail):
    staff = make_user(COORDINATOR, email="staff@medtour.example")
    disabled = make_user(CLINIC, email="gone@clinic.example", clinic_id=clinic_user.clinic_id, active=False)
    pages = {email: _ask_for_link(client, email) for email in
             ("desk@clinic.example", "nobody@clinic.example", staff.email, disabled.email)}
    assert [m["To"] for m in outbox_mail] == [clinic_user.email]

    def normalised(text: str, email: str) -> str:
        return re.sub(r'name="csrf_token" value="[^"]*"', "", text).replace(email, "EMAIL")

    texts = {normalised(page.text, email) for email, page in pages.items()}
    assert len(texts) == 1
    assert {page.status_code for page in pages.values()} == {200}
    assert reloaded(staff).signin_nonce_hash is None and reloaded(disabled).signin_nonce_hash is None


def test_an_expired_link_is_refused(client, clinic_user, outbox_mail, monkeypatch):
    with monkeypatch.context() as patch:
        issued_at = int(time.time()) - int(signin_links.LINK_TTL.total_seconds()) - 5
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: issued_at)
        link = _link_for(client, clinic_user, outbox_mail)
    for response in (client.get(link), client.post(link)):
        assert response.status_code == 410
        assert signin_links.EXPIRED in response.text
    assert signed_in_id(client) is None
    assert reloaded(clinic_user).signin_nonce_hash is not None


def test_a_link_just_within_its_time_works(client, clinic_user, outbox_mail, monkeypatch):
    with monkeypatch.context() as patch:
        issued_at = int(time.time()) - int(signin_links.LINK_TTL.total_seconds()) + 60
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: issued_at)
        link = _link_for(client, clinic_user, outbox_mail)
    assert client.post(link).status_code == 303


@pytest.mark.parametrize("tamper", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),   # the signature
    lambda token: "x" + token,                                                 # the payload
    lambda token: "not-a-token",
])
def test_a_tampered_link_is_refused(client, clinic_user, outbox_mail, tamper):
    link = _link_for(client, clinic_user, outbox_mail)
    token = link.rsplit("/", 1)[1]
    forged = f"/clinic/login/link/{tamper(token)}"
    for response in (client.get(forged), client.post(forged)):
        assert response.status_code == 410 and signin_links.NOT_VALID in response.text
    assert signed_in_id(client) is None
    assert client.post(link).status_code == 303, "the real link still works"


def test_a_link_signed_for_something_else_is_refused(app, client, clinic_user):
    from itsdangerous import URLSafeTimedSerializer

    other = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="something else")
    forged = other.dumps({"user": clinic_user.id, "nonce": "guess"})
    assert client.post(f"/clinic/login/link/{forged}").status_code == 410


def test_only_the_newest_link_works(client, clinic_user, outbox_mail):
    first = _link_for(client, clinic_user, outbox_mail)
    second = _link_for(client, clinic_user, outbox_mail)
    assert first != second
    refused = client.post(first)
    assert refused.status_code == 410 and signin_links.NOT_VALID in refused.text
    assert client.post(second).status_code == 303


def test_a_disabled_users_link_does_nothing(client, clinic_user, outbox_mail):
    link = _link_for(client, clinic_user, outbox_mail)
    clinic_user.active = False
    db.session.commit()
    for response in (client.get(link), client.post(link)):
        assert response.status_code == 410
    assert signed_in_id(client) is None


def test_a_link_without_a_valid_form_token_does_not_sign_in(app, client, clinic_user, outbox_mail, monkeypatch):
    link = _link_for(client, clinic_user, outbox_mail)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(link, data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert signed_in_id(client) is None
    assert reloaded(clinic_user).signin_nonce_hash is not None


def test_without_mail_url_the_link_is_written_to_the_log(app, client, clinic_user, caplog, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", None)
    caplog.set_level(logging.INFO, "service.notifications")
    _ask_for_link(client, clinic_user.email)
    assert "email not sent (MAIL_URL unset)" in caplog.text
    assert f"To: {clinic_user.email}" in caplog.text
    link = re.search(r"http://\S+(/clinic/login/link/\S+)", caplog.text).group(1)
    assert client.post(link).status_code == 303


def test_a_mail_failure_is_logged_and_raised_for_a_retry_and_the_page_reads_the_same(
        client, clinic_user, caplog, monkeypatch):
    def down(message, mail_url):
        raise transport.MailUnavailable("connection refused")

    monkeypatch.setattr(transport, "send", down)
    response = client.post("/clinic/login/link", data={"email": clinic_user.email})
    assert response.status_code == 200 and "we have sent it a sign-in link" in response.text
    with pytest.raises(transport.MailUnavailable):
        run_pending(Job.SEND_SIGNIN_LINK)
    assert f"could not send the sign-in link to {clinic_user.email}" in caplog.text


def test_link_requests_are_limited_per_address(client, clinic_user, outbox_mail):
    for number in range(20):
        assert _ask_for_link(client, f"someone{number}@clinic.example").status_code == 200
    refused = _ask_for_link(client, clinic_user.email)
    assert refused.status_code == 429
    assert LOCKED_15 in refused.text and 'action="/clinic/login/link"' in refused.text
    assert outbox_mail == []


def test_an_empty_address_is_asked_for(client, outbox_mail):
    response = client.post("/clinic/login/link", data={"email": ""})
    assert response.status_code == 422
    assert "Enter your email address." in response.text
    assert outbox_mail == []


# --- clinic accounts on the admin users page ----------------------------------------------

def test_admin_creates_a_clinic_user_on_the_users_page(client, clinic, db_session):
    admin = make_user("admin")
    sign_in(client, admin)
    page = client.get("/staff/users")
    assert '<option value="clinic">Clinic</option>' in page.text
    assert f'<option value="{clinic.slug}">{clinic.name}, {clinic.city}</option>' in page.text

    response = client.post("/staff/users", data={
        "email": "Front.Desk@Clinic.example", "role": CLINIC, "clinic": clinic.slug, "password": PASSWORD, "capacity": 15,
    })
    assert response.status_code == 303
    created = db.session.scalar(select(User).filter_by(email="front.desk@clinic.example"))
    assert created.role == CLINIC and created.clinic_id == clinic.id
    listing = client.get("/staff/users").text
    assert f"Account created for front.desk@clinic.example (clinic of {clinic.name})" in listing
    row = re.search(r"<tr>\s*<td>front\.desk@clinic\.example.*?</tr>", listing, re.S).group(0)
    assert f"<td>{clinic.name}</td>" in row


@pytest.mark.parametrize(("role", "clinic_choice", "message"), [
    (CLINIC, "", "A clinic account needs its clinic"),
    (COORDINATOR, "first", "Only clinic accounts belong to a clinic; a coordinator account cannot have one."),
    (CLINIC, "no-such-clinic", "Not a valid choice"),
])
def test_the_users_page_keeps_clinics_to_clinic_accounts(client, clinic, db_session, role, clinic_choice, message):
    sign_in(client, make_user("admin"))
    response = client.post("/staff/users", data={
        "email": "someone@clinic.example", "role": role, "password": PASSWORD, "capacity": 15,
        "clinic": clinic.slug if clinic_choice == "first" else clinic_choice,
    })
    assert response.status_code == 422
    assert message in response.text
    assert 'value="someone@clinic.example"' in response.text, "what was typed is kept"
    assert db.session.scalar(select(User).filter_by(email="someone@clinic.example")) is None
