"""`flask --app wsgi mail-in`: the inbound SMTP receiver (aiosmtpd) that turns a
patient's e-mail reply into a message on their case (`service.cases.inbound_mail`).

It accepts mail for the signed per-case reply addresses, and for our MAIL_FROM address
when the message's threading headers name a Message-ID of ours; everything else gets a
permanent SMTP error, so the sending server bounces it and nothing is kept: an unknown
or forged address at RCPT (550 5.1.1), a message over `limits.MAIL_IN_MAX_BYTES` (552,
also advertised as SIZE in EHLO, so most clients do not even send it), a sender who is
not the case's e-mail address (550 5.7.1). A database or storage error is a temporary
451, so the sending server tries again later.

The protocol runs on aiosmtpd's event loop; each database step runs in a small thread
pool, inside its own app context, and ends in the one commit point (the files written
are deleted again if the commit fails). One log line per accepted or refused delivery
names the case's reference and the verdict, never an address or any text. In
production it sits behind the agency's MX (docs/mail-in.md).
"""
from __future__ import annotations

import asyncio
import email.policy
import logging
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Final, TypeVar

import click
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from flask import Flask, current_app
from flask.cli import with_appcontext

from service import limits
from service.cases import inbound_mail, messages
from service.extensions import db

log = logging.getLogger(__name__)

IDENT: Final = "Medtour mail-in"

UNKNOWN_RECIPIENT: Final = "550 5.1.1 No such recipient here"
NOT_A_REPLY: Final = "550 5.1.1 Not a reply to a Medtour e-mail: no such recipient here"
OTHER_CASE: Final = "452 4.5.3 One case per message: send to this recipient separately"
TOO_BIG: Final = f"552 5.3.4 Message too big: the limit is {limits.MAIL_IN_MAX_BYTES // limits.MIB} MB"
WRONG_SENDER: Final = "550 5.7.1 Replies are accepted only from the address the case was opened with"
CLOSED: Final = "550 5.7.1 This request takes no more messages"
ACCEPTED: Final = "250 2.0.0 Message accepted"
TRY_LATER: Final = "451 4.3.0 Temporary failure, try again later"

T = TypeVar("T")


def parse(data: bytes, mail_from: str | None) -> EmailMessage:
    """The message as received, with the `Return-Path` a delivering server writes from
    the envelope sender (`<>` for a bounce) in place of any the sender set."""
    message = BytesParser(policy=email.policy.default).parsebytes(data)
    del message["Return-Path"]
    message["Return-Path"] = f"<{(mail_from or '').strip('<>')}>"
    return message  # type: ignore[return-value]


class Receiver:
    """aiosmtpd handler: RCPT and DATA checked against the cases."""

    def __init__(self, app: Flask, *, workers: int = 4) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mail-in")

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._in_app, function, *args)

    def _in_app(self, function: Callable[..., T], *args: Any) -> T:
        with self.app.app_context():
            return function(*args)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            reply = await self._run(_check_recipient, address, list(envelope.rcpt_tos))
        except Exception as exc:
            _log_failure("recipient", _peer(session), exc)
            return TRY_LATER
        if reply is None:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        log.info("mail-in: refused recipient from %s: %s", _peer(session), reply)
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        if len(data) > limits.MAIL_IN_MAX_BYTES:
            log.info("mail-in: refused message from %s: %d bytes, over the limit", _peer(session), len(data))
            return TOO_BIG
        return await self._run(_receive, data, envelope.mail_from, list(envelope.rcpt_tos), _peer(session))

    def close(self) -> None:
        self.executor.shutdown(wait=True)


def _log_failure(what: str, peer: str, exc: Exception) -> None:
    """The error's kind only at ERROR: a database error's text quotes the statement's
    parameters, the patient's words among them. The traceback is at DEBUG."""
    log.error("mail-in: %s from %s not kept (%s); the sender will retry", what, peer, type(exc).__name__)
    log.debug("mail-in: %s failure", what, exc_info=exc)


def _peer(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)


def _check_recipient(address: str, earlier: list[str]) -> str | None:
    """None to accept the address; else the SMTP reply refusing it. Our MAIL_FROM
    address is taken too, for the message's threading headers to name the case."""
    case = inbound_mail.case_for_address(address)
    if case is None:
        return None if inbound_mail.is_sender_address(address) else UNKNOWN_RECIPIENT
    for other in earlier:
        first = inbound_mail.case_for_address(other)
        if first is not None and first.id != case.id:
            return OTHER_CASE
    return None


def _receive(data: bytes, mail_from: str | None, recipients: list[str], peer: str) -> str:
    """Keep the message on its case in one transaction; the SMTP reply."""
    try:
        message = parse(data, mail_from)
        case = inbound_mail.find_case(recipients, message)
        if case is None:
            db.session.rollback()
            log.info("mail-in: refused message from %s: not a reply to an e-mail of a case", peer)
            return NOT_A_REPLY
        reference = case.reference
        if not inbound_mail.may_deliver(case, message):
            db.session.rollback()
            log.info("mail-in: refused message for %s from %s: not from the case's address", reference, peer)
            return WRONG_SENDER
        delivery = inbound_mail.deliver(case, message)
        messages.commit_or_clean(delivery.message)
    except messages.MessageRefused:
        db.session.rollback()
        log.info("mail-in: refused message from %s: the case takes no more messages", peer)
        return CLOSED
    except Exception as exc:
        db.session.rollback()
        _log_failure("message", peer, exc)
        return TRY_LATER
    log.info(
        "mail-in: accepted message for %s from %s: %s, %d file(s) kept, %d refused",
        reference, peer, "automatic reply" if delivery.automatic else "patient reply",
        delivery.accepted, len(delivery.refused),
    )
    return ACCEPTED


def controller(app: Flask, host: str, port: int) -> tuple[Controller, Receiver]:
    """The receiver, not yet started. SIZE is advertised from the same limit DATA checks."""
    receiver = Receiver(app)
    return Controller(
        receiver,
        hostname=host,
        port=port,
        data_size_limit=limits.MAIL_IN_MAX_BYTES,
        enable_SMTPUTF8=True,
        ident=IDENT,
    ), receiver


@click.command("mail-in")
@click.option("--host", default=None, help="Address to listen on (default: MAIL_IN_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="Port to listen on (default: MAIL_IN_PORT, 2525).")
@with_appcontext
def mail_in_command(host: str | None, port: int | None) -> None:
    """Receive patients' e-mail replies over SMTP until SIGTERM or Ctrl-C."""
    app = current_app._get_current_object()
    host = host or app.config["MAIL_IN_HOST"]
    port = port or app.config["MAIL_IN_PORT"]
    # aiosmtpd logs every command at INFO, addresses included; ours is the one line per message.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    smtp, receiver = controller(app, host, port)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        smtp.start()
    except Exception as exc:
        receiver.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    log.info("mail-in: receiving replies on %s:%d", host, port)
    click.echo(f"mail-in: receiving replies on {host}:{port}")
    try:
        while not stop.wait(1):
            pass
    finally:
        smtp.stop()
        receiver.close()
        click.echo("mail-in: stopped")
