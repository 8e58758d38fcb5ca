"""TOTP second factor (RFC 6238, 30-second steps, 6 digits, as authenticator apps expect)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Final

import pyotp
from pyotp.utils import strings_equal

ISSUER: Final = "Medtour"
STEP_SECONDS: Final = 30
# Steps accepted either side of the current one, for a phone clock a little off.
VALID_WINDOW: Final = 1


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, interval=STEP_SECONDS)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or pasted)."""
    return _totp(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def matched_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code `code` is, within the window around `at`; None if none."""
    totp = _totp(secret)
    current = totp.timecode(at)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if strings_equal(code, totp.generate_otp(step)):
            return step
    return None


def fresh_after(step: int) -> datetime:
    """A code for `step` is unused only if the previous sign-in happened before this time.

    A sign-in at time L accepted at most step(L) + VALID_WINDOW, so refusing every step
    <= step(L) + VALID_WINDOW refuses every code that could have been used then."""
    return datetime.fromtimestamp((step - VALID_WINDOW) * STEP_SECONDS, timezone.utc)
