"""Referrals to clinics made directly in the database, with their dossier and files in
the store, for the clinic portal tests (the views use the real clock, so do these)."""
from __future__ import annotations

import io
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from service.accounts.roles import CLINIC
from service.cases import derivatives
from service.cases.paperwork_store import DOSSIER, document_key, dossier_slot
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Attachment, Clinic, Document, Referral, User
from tests.fixtures import files
from tests.fixtures.staff import make_user
from tests.fixtures.cases import make_case
from tests.fixtures.referrals import make_referral


def now() -> datetime:
    return datetime.now(timezone.utc)


def two_clinics() -> tuple[Clinic, Clinic]:
    first, second = db.session.scalars(select(Clinic).order_by(Clinic.slug).limit(2))
    return first, second


def clinic_user(clinic: Clinic, **fields: Any) -> User:
    return make_user(CLINIC, clinic_id=clinic.id, **fields)


def referral_to(clinic: Clinic, *, age: timedelta = timedelta(hours=1), referral_status: str = "pending",
                **case_fields: Any) -> Referral:
    """A routed case referred to `clinic` `age` ago."""
    case_fields.setdefault("status", CaseStatus.ROUTED)
    case_fields.setdefault("date_of_birth", date(1980, 1, 1))
    case = make_case(age=age, now=now(), **case_fields)
    referral = make_referral(case, clinic, age=age, now=now(), status=referral_status)
    db.session.commit()
    return referral


def store_files(referral: Referral, storage) -> tuple[Document, list[Attachment]]:
    """The referral's dossier PDF and two attachments, stored for real, the attachments
    with the previews and clinic copies the worker makes of them."""
    case = referral.case
    attachments = []
    for name, content_type, data in (("knee.png", "image/png", files.png()),
                                     ("report.pdf", "application/pdf", files.pdf())):
        key = f"cases/{case.id}/attachments/{uuid.uuid4()}"
        stored = storage.put(key, io.BytesIO(data), content_type=content_type, filename=name)
        attachment = Attachment(case=case, filename=name, storage_key=key, content_type=content_type,
                                size=stored.size, sha256=stored.sha256)
        db.session.add(attachment)
        attachments.append(attachment)
    db.session.flush()
    for attachment in attachments:  # what the worker does for every stored file
        derivatives.derive(attachment, storage, secret="test")
    slot = dossier_slot(referral.id)
    key = document_key(case.id, slot)
    stored = storage.put(key, io.BytesIO(files.pdf("Dossier")), content_type="application/pdf", filename="d.pdf")
    dossier = Document(case_id=case.id, referral_id=referral.id, kind=DOSSIER, slot=slot, language="en",
                       storage_key=key, size=stored.size, sha256=stored.sha256, pages=1)
    db.session.add(dossier)
    db.session.commit()
    return dossier, attachments


def quote_form(**changes: Any) -> dict[str, Any]:
    """What the quote form posts, valid unless changed."""
    today = date.today()
    data: dict[str, Any] = {
        "price": "12500", "currency": "EUR", "includes": ["treatment", "stay"],
        "earliest_date": (today + timedelta(days=30)).isoformat(), "stay_days": "7",
        "valid_until": (today + timedelta(days=60)).isoformat(), "notes": "Bring your X-rays.",
    }
    data.update(changes)
    return data
