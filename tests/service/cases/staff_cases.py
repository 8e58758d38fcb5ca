"""Cases made directly in the database with chosen timestamps (SLA, queue and
assignment tests need exact ages; the form always stamps "now")."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from service.cases.status import CaseStatus, ReferralStatus
from service.cases.tokens import new_token
from service.extensions import db
from service.models import Case, Clinic, Referral, Treatment

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
_numbers = itertools.count(1)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def treatment(slug: str = "osseointegrated-prosthesis-transfemoral") -> Treatment:
    return db.session.scalars(select(Treatment).where(Treatment.slug == slug)).one()


def clinic(slug: str | None = None) -> Clinic:
    stmt = select(Clinic).order_by(Clinic.slug)
    if slug:
        stmt = stmt.where(Clinic.slug == slug)
    return db.session.scalars(stmt).first()


def make_case(*, age: timedelta = timedelta(0), now: datetime = NOW, **fields: Any) -> Case:
    """A case created `age` before `now`; any column can be overridden."""
    n = next(_numbers)
    created = now - age
    values: dict[str, Any] = {
        "reference": f"MT-2099-{n:06d}",
        "token_hash": new_token()[1],
        "status": CaseStatus.SUBMITTED,
        "full_name": f"Patient {n}",
        "email": f"patient{n}@example.org",
        "country": "KZ",
        "language": "en",
        "treatment": treatment(),
        "description": "Knee pain for two years.",
        "consent_at": created,
        "created_at": created,
    }
    values.update(fields)
    case = Case(**values)
    db.session.add(case)
    db.session.flush()
    return case


def refer(case: Case, *, age: timedelta, now: datetime = NOW, clinic_slug: str | None = None,
          status: str = ReferralStatus.PENDING) -> Referral:
    referral = Referral(
        case=case, clinic=clinic(clinic_slug), score=1.0, reasons=[], status=status, created_at=now - age
    )
    db.session.add(referral)
    db.session.flush()
    return referral
