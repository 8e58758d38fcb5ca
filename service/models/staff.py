"""Agency staff and their signed-in sessions, and what staff add to a case: questions to the patient."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.case import Case
from service.models.catalog import Clinic
from service.models.types import UTCDateTime, utcnow


class User(db.Model):
    """A staff account. Passwords are argon2 hashes; `active` False locks the user out at once."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # The name a letter is signed with ("Elena Sokolova, patient coordinator").
    full_name: Mapped[str | None] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Base32 TOTP secret once the second factor is enrolled.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # Open cases a coordinator can hold before auto-assignment passes them by.
    capacity: Mapped[int] = mapped_column(Integer, default=15)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Clinic users belong to exactly one clinic; staff to none.
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"), index=True)
    # SHA-256 of the one-time sign-in link's nonce; cleared when the link is used.
    signin_nonce_hash: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of an admin-issued password/TOTP reset link's nonce; cleared when used.
    reset_nonce_hash: Mapped[str | None] = mapped_column(String(64))
    # The IANA zone the browser reported ("Europe/Berlin"): times on staff pages are shown in it.
    time_zone: Mapped[str | None] = mapped_column(String(64))

    clinic: Mapped[Clinic | None] = relationship()

    def __repr__(self) -> str:
        return f"<User {self.email} ({self.role})>"


class UserSession(db.Model):
    """One signed-in browser of a staff or clinic user (service/accounts/sessions.py).
    The cookie holds a random token; only its SHA-256 is kept, so the table cannot be
    turned back into cookies. A revoked row stays as the record of who ended it and why."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written at most once a minute (sessions.TOUCH_EVERY); the idle timeout counts from it.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The absolute end, fixed at sign-in (STAFF_SESSION_MAX_HOURS then in force).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why and by whom (an email, or "the command line"): sessions.REASONS.
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    revoked_by: Mapped[str | None] = mapped_column(String(254))

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of user {self.user_id}{' revoked' if self.revoked_at else ''}>"


class PatientQuestion(db.Model):
    """Staff asked the patient for more information; the SLA clock pauses until answered."""

    __tablename__ = "patient_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    question: Mapped[str] = mapped_column(Text)
    # The status the case returns to once the patient answers.
    resume_status: Mapped[str] = mapped_column(String(32))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
    asked_by: Mapped[User | None] = relationship()
