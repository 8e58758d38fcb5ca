"""Managing staff and clinic accounts, shared by the `users` CLI and the admin users
page. Each function flushes and logs the change (there is no user audit table; ended
sessions also keep who ended them, and why, in `user_sessions`); the caller commits.
Disabling an account, a new password and a new second factor sign the user out
everywhere: whoever held a session of theirs must sign in again, with the new secret."""
from __future__ import annotations

import logging
from typing import Final

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from service.accounts import sessions, totp
from service.accounts.passwords import MIN_LENGTH, hash_password
from service.accounts.roles import CLINIC, ROLES
from service.cases import assignment
from service.extensions import db
from service.limits import MAX_COORDINATOR_CAPACITY
from service.models import Clinic, User

log = logging.getLogger(__name__)

PER_PAGE: Final = 50


class AccountError(ValueError):
    """A change refused, with a message for the person who asked for it and, when one
    input is at fault, that input's name (forms put the message next to it)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def default_capacity() -> int:
    return User.__table__.c.capacity.default.arg


def normalize_email(raw: str) -> str:
    try:
        address = validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise AccountError(f"{raw!r} is not a valid email address: {exc}") from exc
    return address.lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def get_by_email(email: str) -> User:
    user = find_by_email(email)
    if user is None:
        raise AccountError(f"There is no staff account for {email}.")
    return user


def check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise AccountError(f"A password needs at least {MIN_LENGTH} characters.", "password")


def check_capacity(capacity: int) -> None:
    if not 0 <= capacity <= MAX_COORDINATOR_CAPACITY:
        raise AccountError(f"Capacity must be between 0 and {MAX_COORDINATOR_CAPACITY} open cases.", "capacity")


def clinic_by_slug(slug: str) -> Clinic:
    clinic = db.session.scalar(select(Clinic).where(Clinic.slug == slug.strip().lower()))
    if clinic is None:
        known = ", ".join(db.session.scalars(select(Clinic.slug).order_by(Clinic.slug))) or "none loaded yet"
        raise AccountError(
            f"There is no clinic with the slug {slug!r}. Each clinic's slug is its \"slug\" in the catalogue "
            f"file (data/catalog.json); the loaded ones are: {known}.",
            "clinic",
        )
    return clinic


def check_clinic(role: str, clinic_slug: str | None) -> Clinic | None:
    """Clinic users belong to exactly one clinic; agency staff to none."""
    if role == CLINIC:
        if not clinic_slug:
            raise AccountError("A clinic account needs its clinic: choose it (on the command line, --clinic SLUG).",
                               "clinic")
        return clinic_by_slug(clinic_slug)
    if clinic_slug:
        raise AccountError(f"Only clinic accounts belong to a clinic; a {role} account cannot have one.", "clinic")
    return None


def create_user(
    email: str, role: str, password: str, *, capacity: int | None = None, clinic_slug: str | None = None, actor: str,
    full_name: str | None = None,
) -> User:
    address = normalize_email(email)
    name = check_full_name(full_name)
    if role not in ROLES:
        raise AccountError(f"Role must be one of: {', '.join(ROLES)}.", "role")
    clinic = check_clinic(role, clinic_slug)
    check_password(password)
    capacity = default_capacity() if capacity is None else capacity
    check_capacity(capacity)
    if find_by_email(address) is not None:
        raise AccountError(f"There is already a staff account for {address}.")
    user = User(email=address, role=role, password_hash=hash_password(password), capacity=capacity, active=True,
                clinic=clinic, full_name=name)
    db.session.add(user)
    db.session.flush()
    log.info("staff user %s created with role %s%s by %s", address, role,
             f" for clinic {clinic.slug}" if clinic else "", actor)
    if clinic is None:
        assignment.capacity_freed()
    return user


def set_active(user: User, active: bool, *, actor: str) -> None:
    """Disabling takes effect on the user's next request (the session loader re-reads
    `active`) and ends every session, so enabling the account again later does not bring
    them back. Enabling also lifts a sign-in lockout: an admin vouched for the person."""
    user.active = active
    if active:
        user.failed_logins = 0
        user.locked_until = None
    db.session.flush()
    log.info("staff user %s %s by %s", user.email, "enabled" if active else "disabled", actor)
    if active:
        assignment.capacity_freed()
    else:
        sessions.revoke_all(user, sessions.DISABLED, actor=actor)


def sign_out_everywhere(user: User, *, actor: str) -> int:
    """End every session of `user` (a lost laptop, a shared computer); how many ended."""
    return sessions.revoke_all(user, sessions.EVERYWHERE, actor=actor)


def set_password(user: User, password: str, *, actor: str) -> None:
    """A new password (forgotten, or leaked); it also lifts a sign-in lockout and signs
    the user out everywhere (a leaked password may have opened sessions)."""
    check_password(password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    db.session.flush()
    log.info("staff user %s password set by %s", user.email, actor)
    sessions.revoke_all(user, sessions.PASSWORD_SET, actor=actor)


FULL_NAME_MAX = 120


def check_full_name(full_name: str | None) -> str | None:
    """The person's name as letters they sign are signed (a visa letter names its
    coordinator); blank is no name."""
    name = " ".join((full_name or "").split())
    if len(name) > FULL_NAME_MAX:
        raise AccountError(f"A name has at most {FULL_NAME_MAX} characters.", "full_name")
    return name or None


def set_full_name(user: User, full_name: str | None, *, actor: str) -> None:
    user.full_name = check_full_name(full_name)
    db.session.flush()
    log.info("staff user %s name set by %s", user.email, actor)


def set_capacity(user: User, capacity: int, *, actor: str) -> None:
    check_capacity(capacity)
    previous = user.capacity
    user.capacity = capacity
    db.session.flush()
    log.info("staff user %s capacity %s -> %s by %s", user.email, previous, capacity, actor)
    if capacity > previous:
        assignment.capacity_freed()


def enrol_totp(user: User, *, replace: bool = False, actor: str) -> str:
    """Store a new TOTP secret and return it; an existing one is kept unless `replace`,
    so a slip cannot lock someone out of their authenticator app. Every session ends:
    the next sign-in needs the new factor."""
    if user.totp_secret and not replace:
        raise AccountError(f"{user.email} already has a second factor; pass --replace to issue a new one.")
    user.totp_secret = totp.new_secret()
    db.session.flush()
    log.info("staff user %s enrolled in TOTP by %s%s", user.email, actor, " (replaced)" if replace else "")
    sessions.revoke_all(user, sessions.TOTP_SET, actor=actor)
    return user.totp_secret


def all_clinics() -> list[Clinic]:
    """Every clinic in the catalogue, by name: the clinics a clinic account may belong to."""
    return list(db.session.scalars(select(Clinic).order_by(Clinic.name)))


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))


def page_of_users(page: int):
    return db.paginate(select(User).order_by(User.email), page=page, per_page=PER_PAGE, error_out=False)
