"""Getting a built message out: over SMTP as `MAIL_URL` describes, or into the log
when it is unset. Every smtplib and socket error is translated here, so callers
only ever see `MailUnavailable` (try again later) or `MailRefused` (5xx).

`MAIL_URL` forms::

    smtp://host                         port 25, plain
    smtp://user:pass@host:587?starttls=1  STARTTLS, then AUTH (587 alone implies STARTTLS)
    smtps://user:pass@host              implicit TLS, port 465
    ...?timeout=10                      seconds per socket operation (default 10)

User and password are percent-decoded (write "@" as %40). Certificates are verified
against the system store (or `SSL_CERT_FILE`), hostname included. Credentials over
plain `smtp://` without STARTTLS are allowed, for a relay on loopback only.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("service.notifications")

DEFAULT_TIMEOUT: Final = 10.0
_TRUE: Final = {"1", "true", "yes", "on"}
_FALSE: Final = {"0", "false", "no", "off"}
_QUERY_KEYS: Final = {"starttls", "timeout"}


class MailError(Exception):
    """Base of the errors `send` raises."""


class MailUnavailable(MailError):
    """The mail server could not take the message now (refused connection, timeout,
    TLS or login failure, a 4xx reply); the job raises so RQ retries it later."""


class MailRefused(MailError):
    """The server refused the message for good (a 5xx reply to the sender, the
    recipient or the data). Raised too, so the job ends up failed on the case's
    timeline where staff see it, instead of the email vanishing silently."""


@dataclass(frozen=True)
class MailServer:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"MAIL_URL: {name}={raw!r} must be 1 or 0 (or true/false)")


def parse_mail_url(mail_url: str) -> MailServer:
    """Read `MAIL_URL`; a ValueError names what is wrong, never the password."""
    parts = urlsplit(mail_url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError(f"MAIL_URL must start with smtp:// or smtps://, got scheme {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("MAIL_URL has no host (expected smtp://[user:pass@]host[:port])")
    if parts.path not in ("", "/"):
        raise ValueError(f"MAIL_URL must not have a path, got {parts.path!r}")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ValueError(f"MAIL_URL has a malformed query string: {exc}") from None
    unknown = sorted(set(query) - _QUERY_KEYS)
    if unknown:
        raise ValueError(f"MAIL_URL has unknown option(s) {', '.join(unknown)}; known: starttls, timeout")
    for key, values in query.items():
        if len(values) > 1:
            raise ValueError(f"MAIL_URL gives {key} more than once")
    try:
        explicit_port = parts.port
    except ValueError:
        raise ValueError("MAIL_URL has an invalid port (expected a number from 1 to 65535)") from None
    implicit_tls = scheme == "smtps"
    if "starttls" in query:
        starttls = _flag("starttls", query["starttls"][0])
    else:
        starttls = not implicit_tls and explicit_port == 587
    if implicit_tls and starttls:
        raise ValueError("MAIL_URL: smtps:// already uses TLS; drop starttls=1 (or use smtp://)")
    port = explicit_port or (465 if implicit_tls else 587 if starttls else 25)
    timeout = DEFAULT_TIMEOUT
    if "timeout" in query:
        try:
            timeout = float(query["timeout"][0])
        except ValueError:
            timeout = 0.0
        if not timeout > 0:
            raise ValueError(f"MAIL_URL: timeout={query['timeout'][0]!r} must be a positive number of seconds")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if (username is None) != (password is None):
        raise ValueError("MAIL_URL must give both user and password (user:pass@host), or neither")
    if not f"{username or ''}{password or ''}".isascii():
        raise ValueError("MAIL_URL user and password must be ASCII once percent-decoded (smtplib sends them so)")
    return MailServer(
        host=parts.hostname,
        port=port,
        implicit_tls=implicit_tls,
        starttls=starttls,
        username=username,
        password=password,
        timeout=timeout,
    )


def _log_message(message: EmailMessage) -> None:
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    log.info("email not sent (MAIL_URL unset)\nTo: %s\nSubject: %s\n\n%s", message["To"], message["Subject"], text)


def _translate(exc: Exception) -> MailError:
    """smtplib and socket errors → ours: 5xx replies are refusals, everything else
    (4xx, network, TLS, login, protocol) may pass once the server or config is fixed."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{code} {reply.decode(errors='replace')}" for code, reply in exc.recipients.values())
        if any(code >= 500 for code in codes):
            return MailRefused(f"recipient refused: {detail}")
        return MailUnavailable(f"recipient deferred: {detail}")
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(
        exc, (smtplib.SMTPAuthenticationError, smtplib.SMTPConnectError, smtplib.SMTPHeloError)
    ):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        if exc.smtp_code >= 500:
            return MailRefused(f"message refused: {exc.smtp_code} {reply}")
        return MailUnavailable(f"message deferred: {exc.smtp_code} {reply}")
    return MailUnavailable(f"mail server unavailable: {type(exc).__name__}: {exc}")


def _deliver(message: EmailMessage, server: MailServer, context: ssl.SSLContext) -> None:
    smtp: smtplib.SMTP
    if server.implicit_tls:
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    try:
        if server.starttls:
            smtp.starttls(context=context)
        if server.username is not None and server.password is not None:
            smtp.login(server.username, server.password)
        refused = smtp.send_message(message)
    finally:
        _quit_quietly(smtp)
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    """Once the message is accepted a failed QUIT changes nothing, and after an error
    it must not hide the first one."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def send(message: EmailMessage, mail_url: str | None, *, context: ssl.SSLContext | None = None) -> None:
    """Send `message` to the addresses in its To header, or log it when `mail_url` is
    None (development: the log then holds the whole text, status link included).
    `context` overrides certificate checks, e.g. for a private CA."""
    if mail_url is None:
        _log_message(message)
        return
    server = parse_mail_url(mail_url)
    try:
        _deliver(message, server, context or ssl.create_default_context())
    except (smtplib.SMTPException, OSError) as exc:
        raise _translate(exc) from exc
