"""MAIL_URL parsing, and sending to a real SMTP server on loopback: plain, STARTTLS
with AUTH, implicit TLS, the log when MAIL_URL is unset, and every failure mapped
to MailUnavailable (try again) or MailRefused (5xx)."""
from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from email.message import EmailMessage
from urllib.parse import quote

import pytest

from service.notifications import MailRefused, MailUnavailable, parse_mail_url, send
from tests.fixtures.services import free_port
from tests.fixtures.smtp import PASSWORD, USER, Certificate, Mailbox

STATUS_URL = "http://medtour.test/s/Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg"


def message(to: str = "amina@example.org") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "Medtour: we have received your request MT-2026-000001"
    msg["From"] = "Medtour <no-reply@medtour.example>"
    msg["To"] = to
    msg.set_content(f"Your private status page: {STATUS_URL}\n")
    return msg


def credentials() -> str:
    return f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}"


# --------------------------------------------------------------------------- MAIL_URL


@pytest.mark.parametrize(
    ("url", "port", "implicit_tls", "starttls"),
    [
        ("smtp://mail.internal", 25, False, False),
        ("smtp://mail.internal?starttls=1", 587, False, True),
        ("smtp://mail.internal:587", 587, False, True),
        ("smtp://mail.internal:587?starttls=0", 587, False, False),
        ("smtp://mail.internal:2525?starttls=true", 2525, False, True),
        ("smtps://mail.internal", 465, True, False),
        ("SMTPS://mail.internal:4650/", 4650, True, False),
    ],
)
def test_mail_url_ports_and_tls_defaults(url, port, implicit_tls, starttls):
    server = parse_mail_url(url)
    assert (server.host, server.port, server.implicit_tls, server.starttls) == (
        "mail.internal", port, implicit_tls, starttls
    )
    assert server.username is None and server.password is None
    assert server.timeout == 10


def test_mail_url_credentials_are_percent_decoded_and_kept_out_of_repr():
    server = parse_mail_url(f"smtp://{credentials()}@mail.internal:587?starttls=1&timeout=2.5")
    assert server.username == USER
    assert server.password == PASSWORD
    assert server.timeout == 2.5
    assert PASSWORD not in repr(server)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.internal", "smtp:// or smtps://"),
        ("mail.internal:25", "smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://mail.internal:port", "invalid port"),
        ("smtp://mail.internal:70000", "invalid port"),
        ("smtp://mail.internal/inbox", "path"),
        ("smtp://mail.internal?startls=1", "unknown option(s) startls"),
        ("smtp://mail.internal?starttls=maybe", "starttls='maybe'"),
        ("smtp://mail.internal?starttls=1&starttls=0", "more than once"),
        ("smtp://mail.internal?timeout=soon", "timeout='soon'"),
        ("smtp://mail.internal?timeout=0", "positive"),
        ("smtps://mail.internal?starttls=1", "already uses TLS"),
        ("smtp://user@mail.internal", "both user and password"),
        ("smtp://:secret-pw@mail.internal", "both user and password"),
        ("smtp://user:p%C3%BC@mail.internal", "ASCII"),
    ],
)
def test_a_bad_mail_url_is_a_value_error_naming_the_problem(url, problem):
    with pytest.raises(ValueError, match="MAIL_URL") as caught:
        parse_mail_url(url)
    assert problem in str(caught.value)
    assert "secret-pw" not in str(caught.value)


def test_a_bad_mail_url_is_reported_by_send_before_any_connection():
    with pytest.raises(ValueError, match="unknown option"):
        send(message(), "smtp://127.0.0.1:1?tls=1")


# --------------------------------------------------------------------------- sending


def test_plain_smtp_delivers_the_message_with_the_status_link(smtp_server: Mailbox, smtp_url: str):
    send(message(), smtp_url)
    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == "no-reply@medtour.example"
    assert envelope.rcpt_tos == ["amina@example.org"]
    [received] = smtp_server.messages()
    assert received["Subject"] == "Medtour: we have received your request MT-2026-000001"
    assert STATUS_URL in received.get_content()


def test_starttls_then_auth_with_a_verified_certificate(starttls_server: Mailbox, certificate: Certificate):
    url = f"smtp://{credentials()}@127.0.0.1:{starttls_server.port}?starttls=1"
    send(message(), url, context=certificate.client_context())
    assert starttls_server.logins == [USER]
    [received] = starttls_server.messages()
    assert STATUS_URL in received.get_content()


def test_starttls_refuses_a_certificate_the_system_does_not_trust(starttls_server: Mailbox):
    url = f"smtp://{credentials()}@127.0.0.1:{starttls_server.port}?starttls=1"
    with pytest.raises(MailUnavailable, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        send(message(), url)
    assert starttls_server.logins == [] and starttls_server.envelopes == []


def test_a_wrong_password_is_unavailable_not_a_crash(starttls_server: Mailbox, certificate: Certificate):
    url = f"smtp://{quote(USER, safe='')}:wrong@127.0.0.1:{starttls_server.port}?starttls=1"
    with pytest.raises(MailUnavailable, match="SMTPAuthenticationError"):
        send(message(), url, context=certificate.client_context())
    assert starttls_server.envelopes == []


def test_without_starttls_the_server_requiring_it_is_unavailable(starttls_server: Mailbox):
    url = f"smtp://{credentials()}@127.0.0.1:{starttls_server.port}?starttls=0"
    with pytest.raises(MailUnavailable):
        send(message(), url)
    assert starttls_server.envelopes == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_with_auth(smtps_server: Mailbox, certificate: Certificate):
    send(message(), f"smtps://{credentials()}@127.0.0.1:{smtps_server.port}", context=certificate.client_context())
    assert smtps_server.logins == [USER]
    assert len(smtps_server.envelopes) == 1


def test_without_mail_url_the_message_is_logged_not_sent(caplog: pytest.LogCaptureFixture, smtp_server: Mailbox):
    with caplog.at_level(logging.INFO, logger="service.notifications"):
        send(message(), None)
    [record] = [r for r in caplog.records if r.name == "service.notifications"]
    assert record.levelno == logging.INFO
    text = record.getMessage()
    assert "amina@example.org" in text
    assert "we have received your request MT-2026-000001" in text
    assert STATUS_URL in text
    assert smtp_server.envelopes == []


# --------------------------------------------------------------------------- failures


def test_connection_refused_is_unavailable():
    with pytest.raises(MailUnavailable, match="ConnectionRefusedError"):
        send(message(), f"smtp://127.0.0.1:{free_port()}")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never greets."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield listener.getsockname()[1]


def test_a_server_that_never_answers_times_out_as_unavailable(silent_port: int):
    started = time.monotonic()
    with pytest.raises(MailUnavailable, match="timed out|TimeoutError"):
        send(message(), f"smtp://127.0.0.1:{silent_port}?timeout=0.3")
    assert time.monotonic() - started < 5


def test_a_4xx_recipient_reply_is_unavailable(smtp_server: Mailbox, smtp_url: str):
    smtp_server.rcpt_reply = "450 4.2.1 Mailbox busy, try later"
    with pytest.raises(MailUnavailable, match="450"):
        send(message(), smtp_url)
    assert smtp_server.envelopes == []


def test_a_5xx_recipient_reply_is_refused(smtp_server: Mailbox, smtp_url: str):
    smtp_server.rcpt_reply = "550 5.1.1 No such user"
    with pytest.raises(MailRefused, match="550"):
        send(message(), smtp_url)
    assert smtp_server.envelopes == []
