"""What an admin changes in the catalogue from the console: whether a clinic takes new
referrals, and how many open referrals it may hold. Clinic details and offers come from
the catalogue file (`catalog load`); these two are day-to-day switches routing obeys at
once. Each change is flushed and logged; the caller commits."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select

from service.extensions import db
from service.limits import MAX_CLINIC_CAPACITY
from service.models import Clinic, ClinicTreatment, Referral
from service.models.status import ReferralStatus

log = logging.getLogger(__name__)


class CatalogError(ValueError):
    """A change refused, with a message for the admin."""


@dataclass(frozen=True)
class ClinicRow:
    clinic: Clinic
    treatments: int
    open_referrals: int

    @property
    def full(self) -> bool:
        return self.open_referrals >= self.clinic.capacity


def overview() -> list[ClinicRow]:
    """Every clinic with how many treatments it offers and its open referrals."""
    offered = (
        select(func.count(ClinicTreatment.id)).where(ClinicTreatment.clinic_id == Clinic.id).scalar_subquery()
    )
    open_ = (
        select(func.count(Referral.id))
        .where(Referral.clinic_id == Clinic.id, Referral.status.in_([str(s) for s in ReferralStatus.open()]))
        .scalar_subquery()
    )
    rows = db.session.execute(select(Clinic, offered, open_).order_by(Clinic.name))
    return [ClinicRow(clinic, treatments, open_referrals) for clinic, treatments, open_referrals in rows]


def set_intake(clinic: Clinic, *, accepting: bool, capacity: int, actor: str) -> list[str]:
    """Apply the switches; returns what changed, in words (empty when nothing did)."""
    if not 0 <= capacity <= MAX_CLINIC_CAPACITY:
        raise CatalogError(f"{clinic.name}: capacity must be between 0 and {MAX_CLINIC_CAPACITY} open referrals.")
    changes: list[str] = []
    if accepting != clinic.accepting:
        clinic.accepting = accepting
        changes.append("takes new referrals again" if accepting else "takes no new referrals")
    if capacity != clinic.capacity:
        changes.append(f"capacity {clinic.capacity} → {capacity} open referrals")
        clinic.capacity = capacity
    if changes:
        db.session.flush()
        log.info("clinic %s changed by %s: %s", clinic.slug, actor, "; ".join(changes))
    return changes
