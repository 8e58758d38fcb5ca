"""Referring a case to clinics against the real database and the demo catalogue:
re-routing reuses the same function and never refers a case twice to one clinic;
capacity counts open referrals; the patient's chosen clinic comes first."""
from __future__ import annotations

from sqlalchemy import select

from service.cases import referrals
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import Case, Clinic, ClinicTreatment, Referral, Treatment
from tests.fixtures.cases import submit

TREATMENT = "osseointegrated-prosthesis-transfemoral"


def offering(slug: str) -> list[Clinic]:
    return list(db.session.scalars(
        select(Clinic).join(ClinicTreatment).join(Treatment).where(Treatment.slug == slug).order_by(Clinic.slug)
    ))


def referred(case: Case) -> list[str]:
    return list(db.session.scalars(
        select(Clinic.slug).join(Referral, Referral.clinic_id == Clinic.id)
        .where(Referral.case_id == case.id).order_by(Referral.id)
    ))


def test_rerouting_refers_new_clinics_only_until_none_is_left(client):
    case = submit(client, treatment=TREATMENT)
    clinics = {c.slug for c in offering(TREATMENT)}
    assert len(clinics) == 4

    first = referrals.route(case, 3)
    assert len(first.referrals) == 3 and case.status == CaseStatus.ROUTED
    second = referrals.route(case, 3)
    assert len(second.referrals) == 1
    assert sorted(referred(case)) == sorted(clinics)

    third = referrals.route(case, 3)
    assert third.referrals == [] and case.status == CaseStatus.NEEDS_ATTENTION
    assert "already referred" in third.reason
    db.session.commit()
    assert len(referred(case)) == len(set(referred(case))) == 4
    change = [e for e in case.events if e.kind == "status_changed"][-1]
    assert change.details["reason"] == third.reason


def test_a_clinic_at_capacity_is_skipped_and_counted_in_words(client):
    case = submit(client, treatment=TREATMENT)
    full = offering(TREATMENT)[0]
    others = [submit(client, treatment=TREATMENT, email=f"p{i}@example.org") for i in range(2)]
    full.capacity = 2
    for other in others:
        db.session.add(Referral(case=other, clinic=full, score=1.0, reasons=[], status=ReferralStatus.PENDING))
    db.session.commit()

    outcome = referrals.route(case, 4)
    assert full.slug not in referred(case)
    assert len(outcome.referrals) == 3

    db.session.scalars(select(Referral).where(Referral.clinic_id == full.id)).first().status = ReferralStatus.DECLINED
    db.session.commit()
    referrals.route(case, 4)
    assert referred(case)[-1] == full.slug
    [load] = [r["reason"] for r in outcome.referrals[0].reasons if r["key"] == "load"]
    assert "open cases" in load


def test_the_patients_chosen_clinic_comes_first_with_its_reason(client):
    plain = submit(client, treatment=TREATMENT)
    ranked = [r.clinic.slug for r in sorted(referrals.route(plain, 4).referrals, key=lambda r: -r.score)]
    chosen = ranked[-1]

    case = submit(client, treatment=TREATMENT, preferred_clinic=chosen, email="chooser@example.org")
    outcome = referrals.route(case, 3)
    best = max(outcome.referrals, key=lambda r: r.score)
    assert best.clinic.slug == chosen
    assert any("chose" in r["reason"] for r in best.reasons)


def test_no_clinic_accepting_means_needs_attention_with_every_clinic_named(client):
    case = submit(client, treatment=TREATMENT)
    for clinic in offering(TREATMENT):
        clinic.accepting = False
    outcome = referrals.route(case, 3)
    assert outcome.referrals == [] and case.status == CaseStatus.NEEDS_ATTENTION
    for clinic in offering(TREATMENT):
        assert clinic.slug in outcome.reason
    assert "not accepting" in outcome.reason


def test_routing_and_rerouting_refer_the_first_of_the_staff_suggestions(client):
    case = submit(client, treatment=TREATMENT)
    suggested = referrals.suggestions(case)
    outcome = referrals.route(case, 2)
    assert [r.clinic.slug for r in outcome.referrals] == [m.clinic_slug for m in suggested[:2]]
    assert [r.score for r in outcome.referrals] == [m.score for m in suggested[:2]]
    assert [r.reasons for r in outcome.referrals] == [
        [{"key": c.key, "points": c.points, "reason": c.reason} for c in m.components] for m in suggested[:2]
    ]
    [escalated] = referrals.refer_next(case).referrals
    assert escalated.clinic.slug == suggested[2].clinic_slug
