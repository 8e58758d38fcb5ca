"""What the agency tells a patient before they trust it with their health data: the
consent they give at the request form (one wording, versioned; the form passes its
version to intake, which records it in `cases.consent_version`), and the facts the
privacy notice, the contact page and the imprint print, read from configuration and
from the domain's own numbers (so the notice cannot drift from what the code does).

The consent wording is English here and translated in the catalogues like every other
string. Changing it, in any language, is a decision, not an edit: give it a new
`CONSENT_VERSION` and `CONSENT_DATE` (tests/service/test_trust.py pins each version's
wording by its SHA-256 and fails until the new version's line is added)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from flask import current_app

from service.cases import sla, staging
from service.i18n import N_, gettext

CONSENT_VERSION: Final = "2026-12"
"""The version of `CONSENT_TEXT` a case records when its patient consents (String(20))."""
CONSENT_DATE: Final = date(2026, 12, 4)
"""When this version of the wording (and the privacy notice it points to) took effect."""
CONSENT_TEXT: Final = N_(
    "I consent to Medtour processing the health information in this request "
    "to arrange my treatment, and sharing it with the clinics it selects for me."
)


@dataclass(frozen=True)
class Consent:
    """The wording a patient agrees to, in the page's language, with its version and date."""

    version: str
    since: date
    text: str


def consent() -> Consent:
    return Consent(version=CONSENT_VERSION, since=CONSENT_DATE, text=gettext(CONSENT_TEXT))


@dataclass(frozen=True)
class PublicFacts:
    """Who runs the service and how it handles data, as the public pages state it (the
    paperwork's letterhead is `paperwork.invoice.Agency`)."""

    name: str
    address: str
    registration: str
    phone: str
    email: str
    # Where people write about their data (PRIVACY_EMAIL, else CONTACT_EMAIL).
    privacy_email: str
    # Closed cases are erased this many days after closing; 0: only when the patient asks.
    retention_days: int
    # How many clinics a request is first referred to, and whether a clinic that lets its
    # answer time run out is replaced by the next one.
    clinics_referred: int
    escalates: bool
    # Whether a new request goes to clinics as soon as it arrives (AUTO_ROUTE), or only
    # once a coordinator has looked at it.
    routes_at_once: bool
    # Files in an S3-compatible object store (encrypted there at rest) rather than on our server's disk.
    cloud_storage: bool
    max_companions: int
    # The clinic's answer clock, and how long an upload never sent with a request is kept.
    clinic_answer_hours: int
    unsent_upload_hours: int

    @property
    def phone_uri(self) -> str:
        """The phone number as a tel: link ("+49 30 000000" → "tel:+4930000000")."""
        return "tel:" + "".join(ch for ch in self.phone if ch.isdigit() or ch == "+")


def agency() -> PublicFacts:
    config = current_app.config
    return PublicFacts(
        name=config["AGENCY_NAME"],
        address=config["AGENCY_ADDRESS"],
        registration=config["AGENCY_REGISTRATION"],
        phone=config["AGENCY_PHONE"],
        email=config["CONTACT_EMAIL"],
        privacy_email=config.get("PRIVACY_EMAIL") or config["CONTACT_EMAIL"],
        retention_days=config["RETENTION_DAYS"],
        clinics_referred=config["ROUTING_TOP_N"],
        escalates=config["ROUTING_ESCALATE"],
        routes_at_once=config["AUTO_ROUTE"],
        cloud_storage=str(config["STORAGE_URL"]).startswith("s3://"),
        max_companions=config["MAX_COMPANIONS"],
        clinic_answer_hours=int(sla.CLINIC_ANSWER.limit.total_seconds() // 3600),
        unsent_upload_hours=int(staging.UPLOAD_TTL.total_seconds() // 3600),
    )
