"""Short-lived secrets in the database (e.g. a status token waiting to be emailed),
encrypted with a key derived from SECRET_KEY so a database dump does not reveal them."""
from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

__all__ = ["InvalidToken", "open_secret", "seal"]


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"medtour-secrets-box:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def open_secret(sealed: str) -> str:
    return _fernet().decrypt(sealed.encode()).decode()
