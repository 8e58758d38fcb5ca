"""The admin's catalogue switches: what changes, what is refused, what routing then does."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service import limits
from service.catalog import manage
from service.cases.status import ReferralStatus
from service.extensions import db
from service.models import Clinic, Referral
from tests.fixtures.cases import make_case


def clinic(slug: str = "bosphorus-ortho-istanbul") -> Clinic:
    return db.session.scalars(select(Clinic).where(Clinic.slug == slug)).one()


def test_overview_counts_treatments_and_open_referrals_only(db_session):
    target = clinic()
    for status in (ReferralStatus.PENDING, ReferralStatus.ACCEPTED, ReferralStatus.DECLINED):
        db.session.add(Referral(case=make_case(), clinic=target, score=1, reasons=[], status=status))
    db.session.flush()
    rows = {row.clinic.slug: row for row in manage.overview()}
    assert len(rows) == db.session.query(Clinic).count()
    assert rows[target.slug].open_referrals == 2
    assert rows[target.slug].treatments == len(target.offers) > 0
    assert [r.clinic.name for r in manage.overview()] == sorted(r.clinic.name for r in rows.values())


def test_a_clinic_at_capacity_shows_as_full(db_session):
    target = clinic()
    target.capacity = 1
    db.session.add(Referral(case=make_case(), clinic=target, score=1, reasons=[], status=ReferralStatus.PENDING))
    db.session.flush()
    row = next(r for r in manage.overview() if r.clinic.id == target.id)
    assert row.full


def test_set_intake_reports_each_change_and_nothing_when_unchanged(db_session, caplog):
    target = clinic()
    capacity = target.capacity
    assert manage.set_intake(target, accepting=False, capacity=capacity + 5, actor="admin@x") == [
        "takes no new referrals", f"capacity {capacity} → {capacity + 5} open referrals",
    ]
    assert (target.accepting, target.capacity) == (False, capacity + 5)
    assert "clinic bosphorus-ortho-istanbul changed by admin@x" in caplog.text
    assert manage.set_intake(target, accepting=False, capacity=capacity + 5, actor="admin@x") == []
    assert manage.set_intake(target, accepting=True, capacity=capacity + 5, actor="admin@x") == [
        "takes new referrals again",
    ]


@pytest.mark.parametrize("capacity", [-1, limits.MAX_CLINIC_CAPACITY + 1])
def test_a_capacity_out_of_range_is_refused_and_nothing_changes(db_session, capacity):
    target = clinic()
    before = (target.accepting, target.capacity)
    with pytest.raises(manage.CatalogError, match=f"between 0 and {limits.MAX_CLINIC_CAPACITY}"):
        manage.set_intake(target, accepting=not target.accepting, capacity=capacity, actor="admin@x")
    assert (target.accepting, target.capacity) == before
