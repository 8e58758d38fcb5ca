"""In-memory stand-ins for the ORM rows the paperwork reads (same attribute names),
and a little store of attachment bytes keyed like the real storage."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from service.models.catalog import ClinicTexts, LocalizedTexts
from tests.fixtures import files


@dataclass
class Treatment(LocalizedTexts):
    name: str = "Osseointegrated prosthesis (transfemoral)"
    slug: str = "osseointegrated-prosthesis-transfemoral"
    # The other languages' texts, as the catalogue loads them ({"ru": {"name": ...}}).
    translations: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Clinic(ClinicTexts):
    name: str = "Klinikum Lübeck Orthopädie"
    city: str = "Lübeck"
    country: str = "DE"
    accreditations: list[str] = field(default_factory=lambda: ["JCI"])
    email: str = "international@klinikum-luebeck.test"
    languages: list[str] = field(default_factory=lambda: ["de", "en", "ru"])
    address: str | None = None
    translations: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    id: int = 0


@dataclass
class Case:
    reference: str = "MT-2026-000042"
    full_name: str = "Amina Petrova"
    email: str = "amina@example.org"
    phone: str | None = "+7 912 345-67-89"
    country: str = "KZ"
    date_of_birth: date | None = date(1979, 4, 2)
    language: str = "ru"
    description: str = (
        "Above-knee amputation in 2019; the socket prosthesis causes sores. "
        "I would like an osseointegrated implant."
    )
    travel_window: str | None = "Spring 2027"
    medications: str | None = "none known"
    allergies: str | None = None
    conditions: str | None = "Type 2 diabetes, controlled"
    treatment: Treatment = field(default_factory=Treatment)
    created_at: datetime = datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class Referral:
    clinic: Clinic = field(default_factory=Clinic)
    # As `service.cases.referrals` stores the routing components: staff wording and points.
    reasons: list[dict[str, Any]] = field(default_factory=lambda: [
        {"key": "treatment", "points": 40.0, "reason": "offers Osseointegrated prosthesis (transfemoral)"},
        {"key": "language", "points": 30.0, "reason": "speaks ru"},
        {"key": "accreditation:JCI", "points": 20.0, "reason": "JCI accredited"},
        {"key": "accreditation:ISO 9001", "points": 0.0,
         "reason": "ISO 9001 certified (accreditation points capped at 20)"},
        {"key": "budget", "points": 15.0, "reason": "within budget"},
        {"key": "response", "points": 8.0, "reason": "answers in ~20 h"},
        {"key": "acceptance", "points": 6.0, "reason": "accepts 60% of referrals"},
        {"key": "load", "points": 7.0, "reason": "7 of 22 open cases"},
    ])


@dataclass
class Quote:
    """Shaped like `service.models.Quote`; `referral` points back at its clinic."""

    price: Decimal = Decimal("12500.00")
    currency: str = "EUR"
    includes: list[str] = field(default_factory=lambda: ["treatment", "stay"])
    earliest_date: date = date(2027, 3, 1)
    stay_days: int = 7
    valid_until: date = date(2027, 1, 31)
    notes: str = ""
    referral: Referral = field(default_factory=Referral)


def quote(clinic: Clinic | None = None, **values: Any) -> Quote:
    """A quote from ``clinic`` (the default clinic when None)."""
    return Quote(referral=Referral(clinic=clinic or Clinic()), **values)


class Store:
    """Attachment bytes by storage key, and a record of what was read."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.reads: list[str] = []

    def add(self, case: Case, filename: str, content_type: str, data: bytes) -> Attachment:
        number = len(case.attachments) + 1
        attachment = Attachment(
            id=number,
            filename=filename,
            content_type=content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage_key=f"cases/1/attachments/{number:04d}",
        )
        self.objects[attachment.storage_key] = data
        case.attachments.append(attachment)
        return attachment

    def read(self, entry: Any) -> bytes:
        self.reads.append(entry.storage_key)
        return self.objects[entry.storage_key]


def link_for(attachment: Attachment) -> str:
    return f"https://files.medtour.test/{attachment.storage_key}?X-Amz-Expires=300&sig=abc"


def photo(size: tuple[int, int] = (640, 480), fmt: str = "JPEG") -> bytes:
    return files.image(fmt, size)


def multipage_pdf(texts: list[str]) -> bytes:
    """A valid PDF with one page per text (built with pypdf from the fixture's one-pagers)."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for text in texts:
        writer.add_page(PdfReader(io.BytesIO(files.pdf(text))).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def rotated_pdf(text: str = "Rotated scan", degrees: int = 90) -> bytes:
    """A one-page PDF whose page carries /Rotate, as scanners often write them."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(files.pdf(text))))
    writer.pages[0].rotate(degrees)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
