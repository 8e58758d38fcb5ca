"""Cases and referrals for the dashboard's figures, in its terms: ISO times and hours
until the first answer, so that the figures can be worked out by hand. Thin over the
shared factories in tests/fixtures/."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from service.cases.status import ReferralStatus
from service.models import Case, Referral
from tests.fixtures.cases import make_case
from tests.fixtures.referrals import make_referral


def at(text: str) -> datetime:
    """An ISO time; without a zone it is UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _after(start: datetime, hours: float | None) -> datetime | None:
    return None if hours is None else start + timedelta(hours=hours)


def case(created: str, *, treatment_slug: str = "knee-replacement", responded_after: float | None = None,
         **fields: Any) -> Case:
    """A case created at `created`; `responded_after` hours later staff first acted on it."""
    created_at = at(created)
    return make_case(now=created_at, treatment_slug=treatment_slug,
                     first_response_at=_after(created_at, responded_after), **fields)


def refer(row: Case, clinic_slug: str, sent: str, *, status: ReferralStatus = ReferralStatus.PENDING,
          answered_after: float | None = None) -> Referral:
    sent_at = at(sent)
    return make_referral(row, clinic_slug, now=sent_at, age=timedelta(0), status=status,
                         responded_at=_after(sent_at, answered_after))
