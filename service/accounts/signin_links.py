"""One-time sign-in links for clinic users, sent by email instead of typing a password.

The link carries a token signed with SECRET_KEY (its own salt, so no other signed value
can pass for it) holding the user's id and a random nonce; only the SHA-256 of the nonce
is stored, in `User.signin_nonce_hash`. A link is good for `LINK_TTL`, once: using it
clears the hash, and asking for a new one replaces it, so only the newest link works.

Asking for a link (`request_link`) only records an outbox row, the same for every
address, so the answer and its timing say nothing about which addresses have accounts;
the worker looks the address up and sends the email (`send_link`). Nothing here
commits but `send_link`, which runs as a job of its own; otherwise the caller does."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

from flask import current_app

from service.accounts.link_tokens import LinkRefused, OneTimeLink
from service.accounts.roles import CLINIC
from service.accounts.users import find_by_email
from service.cases.secrets_box import seal
from service.extensions import db
from service.links import external_url
from service.models import OutboxMessage, User
from service.notifications import emails, transport
from service.outbox import Job, record

log = logging.getLogger(__name__)

LINK_TTL: Final = timedelta(minutes=30)
_SALT: Final = "medtour.clinic-signin-link"

EXPIRED: Final = (
    f"This sign-in link has expired: links work for {int(LINK_TTL.total_seconds() // 60)} minutes. "
    "Ask for a new one below."
)
NOT_VALID: Final = (
    "This sign-in link does not work any more: each link signs in once, and only the newest "
    "link you asked for works. Ask for a new one below."
)

_LINK: Final = OneTimeLink(_SALT, LINK_TTL, "signin_nonce_hash", EXPIRED, NOT_VALID)


def ttl_minutes() -> int:
    return int(LINK_TTL.total_seconds() // 60)


def can_use_links(user: User | None) -> bool:
    """Only active clinic accounts with their clinic sign in by link."""
    return user is not None and user.active and user.role == CLINIC and user.clinic_id is not None


def recipient(email: str) -> User | None:
    """The account a link may be sent to for `email`, or None (say nothing about why)."""
    user = find_by_email(email)
    return user if can_use_links(user) else None


def issue(user: User) -> str:
    """A new link token for `user`; any earlier link stops working."""
    token = _LINK.issue(user)
    log.info("sign-in link issued for %s", user.email)
    return token


def request_link(email: str, next_url: str | None) -> OutboxMessage:
    """Record that a link was asked for `email`, whoever it belongs to: one outbox row
    with the address sealed (wiped once the job is done), and no lookup here."""
    return record(Job.SEND_SIGNIN_LINK, case_id=None, sealed_email=seal(email), next_url=next_url)


def link_url(token: str, next_url: str | None) -> str:
    """The link as the email prints it, at BASE_URL (the worker has no request)."""
    return external_url("clinic_auth.link", token=token, next=next_url)


def send_link(email: str, next_url: str | None) -> bool:
    """The worker's half: a new link for the clinic account of `email`, emailed; False,
    with nothing sent or changed, when the address has none. The link is committed before
    the mail server is contacted, so no transaction waits on SMTP and a link that arrives
    works; a mail failure raises, and the retry sends a fresh link that replaces it."""
    user = recipient(email)
    if user is None:
        return False
    token = issue(user)
    db.session.commit()
    config = current_app.config
    message = emails.clinic_signin_link(
        link_url=link_url(token, next_url), minutes=ttl_minutes(), mail_from=config["MAIL_FROM"],
        to=user.email, contact_email=config["CONTACT_EMAIL"],
    )
    try:
        transport.send(message, config["MAIL_URL"])
    except transport.MailError as exc:
        log.warning("could not send the sign-in link to %s (the job will try again): %s", user.email, exc)
        raise
    return True


def check(token: str) -> User:
    """The user the link would sign in, without using it up (the confirmation page)."""
    user_id, nonce = _LINK.claims(token)
    user = db.session.get(User, user_id)
    if not can_use_links(user) or not _LINK.matches(user, nonce):
        raise LinkRefused(NOT_VALID)
    return user


def redeem(token: str) -> User:
    """Use the link up and return its user (once, however many requests race with it)."""
    user_id, nonce = _LINK.claims(token)
    user = _LINK.use_up(user_id, nonce, User.role == CLINIC, User.clinic_id.is_not(None))
    log.info("sign-in link used by %s", user.email)
    return user
