"""Cases and referrals written straight into the database with exact timestamps, for
figures that can be worked out by hand."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from service.cases.status import CaseStatus, ReferralStatus
from service.cases.tokens import new_token
from service.extensions import db
from service.models import Case, Clinic, Referral, Treatment

_numbers = itertools.count(1)


def at(text: str) -> datetime:
    """An ISO time; without a zone it is UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def treatment(slug: str) -> Treatment:
    return db.session.scalars(select(Treatment).where(Treatment.slug == slug)).one()


def clinic(slug: str) -> Clinic:
    return db.session.scalars(select(Clinic).where(Clinic.slug == slug)).one()


def case(created: str, *, status: CaseStatus = CaseStatus.SUBMITTED, treatment_slug: str = "knee-replacement",
         country: str = "KZ", responded_after: float | None = None, **fields: Any) -> Case:
    """A case created at `created`; `responded_after` hours later staff first acted on it."""
    n = next(_numbers)
    created_at = at(created)
    row = Case(
        reference=f"MT-2098-{n:06d}",
        token_hash=new_token()[1],
        status=status,
        full_name=f"Patient {n}",
        email=f"patient{n}@example.org",
        country=country,
        language="en",
        treatment=treatment(treatment_slug),
        description="Knee pain for two years.",
        consent_at=created_at,
        created_at=created_at,
        first_response_at=None if responded_after is None else created_at + timedelta(hours=responded_after),
        **fields,
    )
    db.session.add(row)
    db.session.flush()
    return row


def refer(row: Case, clinic_slug: str, sent: str, *, status: ReferralStatus = ReferralStatus.PENDING,
          answered_after: float | None = None) -> Referral:
    sent_at = at(sent)
    referral = Referral(
        case=row, clinic=clinic(clinic_slug), status=status, score=1.0, reasons=[], created_at=sent_at,
        responded_at=None if answered_after is None else sent_at + timedelta(hours=answered_after),
    )
    db.session.add(referral)
    db.session.flush()
    return referral
