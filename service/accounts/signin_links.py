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

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Final

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import update

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


class LinkRefused(Exception):
    """The link cannot sign anybody in; the message says why and what to do."""


def ttl_minutes() -> int:
    return int(LINK_TTL.total_seconds() // 60)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def can_use_links(user: User | None) -> bool:
    """Only active clinic accounts with their clinic sign in by link."""
    return user is not None and user.active and user.role == CLINIC and user.clinic_id is not None


def recipient(email: str) -> User | None:
    """The account a link may be sent to for `email`, or None (say nothing about why)."""
    user = find_by_email(email)
    return user if can_use_links(user) else None


def issue(user: User) -> str:
    """A new link token for `user`; any earlier link stops working."""
    nonce = secrets.token_urlsafe(32)
    user.signin_nonce_hash = _digest(nonce)
    db.session.flush()
    log.info("sign-in link issued for %s", user.email)
    return _serializer().dumps({"user": user.id, "nonce": nonce})


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


def _claims(token: str) -> tuple[int, str]:
    try:
        data = _serializer().loads(token, max_age=int(LINK_TTL.total_seconds()))
    except SignatureExpired as exc:
        raise LinkRefused(EXPIRED) from exc
    except BadSignature as exc:
        raise LinkRefused(NOT_VALID) from exc
    if not isinstance(data, dict) or not isinstance(data.get("user"), int) or not isinstance(data.get("nonce"), str):
        raise LinkRefused(NOT_VALID)
    return data["user"], _digest(data["nonce"])


def check(token: str) -> User:
    """The user the link would sign in, without using it up (the confirmation page)."""
    user_id, digest = _claims(token)
    user = db.session.get(User, user_id)
    if not can_use_links(user) or not secrets.compare_digest(user.signin_nonce_hash or "", digest):
        raise LinkRefused(NOT_VALID)
    return user


def redeem(token: str) -> User:
    """Use the link up and return its user. The check and the clearing are one
    conditional UPDATE, so two requests racing with the same link cannot both sign in."""
    user_id, digest = _claims(token)
    claimed = db.session.execute(
        update(User)
        .where(User.id == user_id, User.signin_nonce_hash == digest, User.active.is_(True),
               User.role == CLINIC, User.clinic_id.is_not(None))
        .values(signin_nonce_hash=None),
        execution_options={"synchronize_session": False},
    ).rowcount
    if claimed != 1:
        raise LinkRefused(NOT_VALID)
    user = db.session.get(User, user_id)
    db.session.refresh(user)
    log.info("sign-in link used by %s", user.email)
    return user
