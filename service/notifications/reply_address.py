"""The per-case reply address and Message-ID of every patient e-mail, and reading a
case back from either when the patient answers (`workers.mail_in`).

Both carry the case id with an HMAC made by itsdangerous with SECRET_KEY (a salt of
their own, so neither can pass for the other or for any other signed value). The
signature is written in lowercase base32, not base64: mail servers may change the case
of an address's local part, and a case-sensitive signature would then stop matching.
A Message-ID must be unique per e-mail, so it adds a random part under the same
signature. Nothing is stored: the signature is the proof.
"""
from __future__ import annotations

import base64
import binascii
import re
import secrets
from email.utils import parseaddr
from typing import Final

from flask import current_app
from itsdangerous import Signer

LOCAL_PREFIX: Final = "reply+"
_ADDRESS_SALT: Final = "medtour.reply-address"
_MESSAGE_ID_SALT: Final = "medtour.message-id"
_ADDRESS_TOKEN: Final = re.compile(r"(?P<case>[1-9][0-9]{0,17})-(?P<sig>[a-z2-7]{16,})")
_MESSAGE_ID: Final = re.compile(
    r"<?case\.(?P<case>[1-9][0-9]{0,17})\.(?P<nonce>[a-z2-7]{1,32})\.(?P<sig>[a-z2-7]{16,})@(?P<domain>[^>\s]+)>?"
)


def domain() -> str:
    return current_app.config["MAIL_IN_DOMAIN"].lower()


def _signer(salt: str) -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt=salt)


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


def _sign(salt: str, value: str) -> str:
    signer = _signer(salt)
    return _b32(signer.algorithm.get_signature(signer.derive_key(), value.encode()))


def _verified(salt: str, value: str, signature: str) -> bool:
    padded = signature.upper() + "=" * (-len(signature) % 8)
    try:
        raw = base64.b32decode(padded)
    except (binascii.Error, ValueError):
        return False
    signer = _signer(salt)
    return signer.algorithm.verify_signature(signer.derive_key(), value.encode(), raw)


def address_for(case_id: int) -> str:
    """`reply+<case id>-<signature>@<MAIL_IN_DOMAIN>`: answering any patient e-mail
    reaches the case."""
    return f"{LOCAL_PREFIX}{case_id}-{_sign(_ADDRESS_SALT, str(case_id))}@{domain()}"


def case_id_from_address(address: str) -> int | None:
    """The case of a reply address of ours; None for any other address, another domain,
    or a signature that does not verify."""
    addr = parseaddr(address.strip())[1] or address.strip().strip("<>")
    local, at, addr_domain = addr.lower().rpartition("@")
    if not at or addr_domain != domain() or not local.startswith(LOCAL_PREFIX):
        return None
    match = _ADDRESS_TOKEN.fullmatch(local[len(LOCAL_PREFIX):])
    if match is None or not _verified(_ADDRESS_SALT, match["case"], match["sig"]):
        return None
    return int(match["case"])


def message_id_for(case_id: int) -> str:
    """A new, unique `<case.<id>.<random>.<signature>@<MAIL_IN_DOMAIN>>` for one e-mail;
    a reply's `In-Reply-To`/`References` tells the case back from it."""
    nonce = _b32(secrets.token_bytes(10))
    value = f"{case_id}.{nonce}"
    return f"<case.{value}.{_sign(_MESSAGE_ID_SALT, value)}@{domain()}>"


def case_id_from_message_ids(ids: list[str]) -> int | None:
    """The case of the first Message-ID of ours among `ids` (In-Reply-To, then References)."""
    for candidate in ids:
        match = _MESSAGE_ID.fullmatch(candidate.strip().lower())
        if match is None or match["domain"] != domain():
            continue
        if _verified(_MESSAGE_ID_SALT, f"{match['case']}.{match['nonce']}", match["sig"]):
            return int(match["case"])
    return None


def headers_for(case_id: int) -> dict[str, str]:
    """What every patient e-mail sets so that answering it lands on the case."""
    return {"Reply-To": address_for(case_id), "Message-ID": message_id_for(case_id)}
