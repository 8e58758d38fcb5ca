"""Sending each notification once, with the `notifications` table as the ledger:
its unique (case_id, kind, recipient) key names one message to one recipient."""
from __future__ import annotations

import logging
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.models import Notification
from service.models.types import utcnow
from service.notifications import transport

log = logging.getLogger("service.notifications")

# What a notification is about; one of each per case and recipient.
PATIENT_CONFIRMATION: Final = "patient_confirmation"
CLINIC_REFERRAL: Final = "clinic_referral"
STAFF_CHOICE: Final = "staff_choice"

# Claimed, outcome unknown: no attempt got as far as recording acceptance.
SENDING: Final = "sending"
# Accepted by the mail server (or written to the log when MAIL_URL is unset).
SENT: Final = "sent"


def _find(session: Session, case_id: int, kind: str, recipient: str) -> Notification | None:
    return session.scalars(
        select(Notification).where(
            Notification.case_id == case_id, Notification.kind == kind, Notification.recipient == recipient
        )
    ).one_or_none()


def _claim(session: Session, *, case_id: int, kind: str, recipient: str, referral_id: int | None) -> Notification:
    """The ledger row, created as SENDING if missing. A concurrent run inserting the
    same key loses to the unique constraint inside a savepoint and reads the winner's row."""
    row = _find(session, case_id, kind, recipient)
    if row is not None:
        return row
    row = Notification(case_id=case_id, kind=kind, recipient=recipient, referral_id=referral_id, status=SENDING)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = _find(session, case_id, kind, recipient)
        if existing is None:
            raise
        return existing
    return row


def _check_recipient(message: EmailMessage, recipient: str) -> None:
    addresses = {address.lower() for _, address in getaddresses(message.get_all("To", []))}
    if addresses != {recipient.lower()}:
        raise ValueError(f"the message is addressed to {sorted(addresses)}, not to the ledger's recipient")


def notify_once(
    session: Session,
    *,
    case_id: int,
    kind: str,
    recipient: str,
    referral_id: int | None,
    build: Callable[[], EmailMessage],
    mail_url: str | None,
) -> bool:
    """Send the message `build` makes unless the ledger says it was sent; True if sent now.

    Delivery is at-least-once. The SMTP server and the database cannot commit
    together, so the one window left is between the server accepting the message
    and the SENT mark committing: a crash there leaves the row SENDING and the retry
    sends again. Losing a patient's only status link is worse than a duplicate.

    To keep that window that small, this function commits `session` itself, twice:
    the SENDING claim before talking to the server (no transaction stays open across
    the SMTP conversation), and the SENT mark right after acceptance, so a later
    failure of the caller's own commit cannot undo the record and cause a second
    email. Whatever else the session holds is committed with them, so call it from
    a job of its own, or as that job's last database step. A `MailError` from the
    transport propagates (the row stays SENDING) so the RQ job is retried.
    """
    row = _claim(session, case_id=case_id, kind=kind, recipient=recipient, referral_id=referral_id)
    if row.status == SENT:
        return False
    session.commit()
    message = build()
    _check_recipient(message, recipient)
    transport.send(message, mail_url)
    row.status = SENT
    row.sent_at = utcnow()
    session.commit()
    log.info("notification %s sent: %s for case %s", row.id, kind, case_id)
    return True
