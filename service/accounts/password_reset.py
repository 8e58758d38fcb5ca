"""Resetting a staff or clinic user's password (and second factor) by a one-time link
that an administrator sends from /staff/users: what the sign-in pages promise to
someone who forgot their password, is locked out, or lost the phone with their codes.

Sending it signs the user out everywhere at once (whoever asked for a reset may not be
the only one holding the account). The worker makes the link and e-mails it
(`send_reset`), so the link exists only in that e-mail: it carries a token signed with
SECRET_KEY (its own salt) holding the user's id and a random nonce, of which only the
SHA-256 is stored, in `User.reset_nonce_hash`. It is good for `LINK_TTL`, once; a newer
link replaces it. Using it sets the new password (lifting a lockout, ending every
session again) and, for a user who had a second factor or must have one (administrators
under STAFF_ADMIN_TOTP), a new TOTP secret derived from the link's nonce, which the
reset page shows and a code from it confirms; the old factor stops working.

Each step is logged with who took it, as the other account changes are
(`service.accounts.users`)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

import segno
from flask import current_app

from service.accounts import sessions, totp
from service.accounts.link_tokens import LinkRefused, OneTimeLink
from service.accounts.roles import ADMIN, CLINIC
from service.accounts.users import AccountError, check_password, set_password
from service.extensions import db
from service.links import external_url
from service.models import OutboxMessage, User
from service.notifications import emails, transport
from service.outbox import Job, record

log = logging.getLogger(__name__)

LINK_TTL: Final = timedelta(hours=24)
_SALT: Final = "medtour.password-reset-link"

EXPIRED: Final = (
    f"This reset link has expired: links work for {int(LINK_TTL.total_seconds() // 3600)} hours. "
    "Ask an administrator to send you a new one."
)
NOT_VALID: Final = (
    "This reset link does not work any more: each link works once, and only the newest one "
    "an administrator sent works. Ask an administrator to send you a new one."
)
WRONG_CODE: Final = "That code is not right. Add the new key to your authenticator app and enter the code it shows now."
_LINK: Final = OneTimeLink(_SALT, LINK_TTL, "reset_nonce_hash", EXPIRED, NOT_VALID)


@dataclass(frozen=True)
class Reset:
    """What a valid link's page offers: whose password, and the new second factor (the
    secret and its otpauth:// URI) when they are to have one."""

    user: User
    totp_secret: str | None

    @property
    def totp_uri(self) -> str | None:
        return totp.provisioning_uri(self.totp_secret, self.user.email) if self.totp_secret else None

    @property
    def totp_qr(self) -> str | None:
        """The URI as a QR code (an SVG data: URI) for the app to scan."""
        uri = self.totp_uri
        return segno.make(uri, error="m").svg_data_uri(scale=4, border=2) if uri else None


def ttl_hours() -> int:
    return int(LINK_TTL.total_seconds() // 3600)


def _new_totp_secret(nonce: str) -> str:
    """The second factor a link sets up: the same on the page and when the form comes
    back, known to nobody without both the link and SECRET_KEY."""
    key = current_app.config["SECRET_KEY"]
    key = key if isinstance(key, bytes) else str(key).encode()
    mac = hmac.new(key, b"medtour.reset-totp:" + nonce.encode(), hashlib.sha256).digest()
    return base64.b32encode(mac[:20]).decode()


def needs_second_factor(user: User) -> bool:
    """After the reset the user signs in with a code if they did before, or must."""
    return bool(user.totp_secret) or (user.role == ADMIN and bool(current_app.config["STAFF_ADMIN_TOTP"]))


def request_reset(user: User, *, actor: str) -> OutboxMessage:
    """The administrator's half: sign the user out everywhere and have the worker e-mail
    a reset link (any earlier link stops working when it does). The caller commits."""
    if not user.active:
        raise AccountError(f"{user.email} is disabled: enable the account before sending a reset link.")
    sessions.revoke_all(user, sessions.RESET, actor=actor)
    log.info("password reset link for staff user %s requested by %s", user.email, actor)
    return record(Job.SEND_RESET_LINK, case_id=None, user_id=user.id)


def link_url(user: User, token: str) -> str:
    """The link as the e-mail prints it, at BASE_URL: the staff or the clinic page."""
    endpoint = "password_reset.clinic" if user.role == CLINIC else "password_reset.staff"
    return external_url(endpoint, token=token)


def issue(user: User) -> str:
    """A new link token for `user`; any earlier one stops working."""
    return _LINK.issue(user)


def send_reset(user_id: int) -> bool:
    """The worker's half: a new link, committed before the mail server is contacted (a
    link that arrives works), then e-mailed; False, with nothing sent, for an account
    gone or disabled since. A mail failure raises, and the retry sends a fresh link."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return False
    token = issue(user)
    db.session.commit()
    config = current_app.config
    message = emails.password_reset_link(
        link_url=link_url(user, token), hours=ttl_hours(), email=user.email,
        mail_from=config["MAIL_FROM"], to=user.email, contact_email=config["CONTACT_EMAIL"],
    )
    try:
        transport.send(message, config["MAIL_URL"])
    except transport.MailError as exc:
        log.warning("could not send the reset link to %s (the job will try again): %s", user.email, exc)
        raise
    log.info("password reset link sent to %s", user.email)
    return True


def check(token: str) -> Reset:
    """What the link resets, without using it up (the page with the form)."""
    user_id, nonce = _LINK.claims(token)
    user = db.session.get(User, user_id)
    if user is None or not user.active or not _LINK.matches(user, nonce):
        raise LinkRefused(NOT_VALID)
    return Reset(user, _new_totp_secret(nonce) if needs_second_factor(user) else None)


def complete(token: str, password: str, code: str | None = None) -> User:
    """Set the new password (and second factor, confirmed by `code`) and use the link up.
    The check and the clearing are one conditional UPDATE, so two requests racing with
    the same link cannot both reset. A weak password or a wrong code leaves the link
    as it was, for another try."""
    reset = check(token)
    check_password(password)
    if reset.totp_secret is not None:
        if not code or totp.matched_step(reset.totp_secret, code, datetime.now(timezone.utc)) is None:
            raise AccountError(WRONG_CODE, "code")
    user_id, nonce = _LINK.claims(token)
    user = _LINK.use_up(user_id, nonce)
    actor = f"reset link ({user.email})"
    set_password(user, password, actor=actor)
    if reset.totp_secret is not None:
        user.totp_secret = reset.totp_secret
        db.session.flush()
        sessions.revoke_all(user, sessions.TOTP_SET, actor=actor)
    log.info("staff user %s reset their password%s by link", user.email,
             " and second factor" if reset.totp_secret else "")
    return user
