"""Referring a case to clinics: the database shell around the pure ranking in
`service.routing`. Routing and re-routing both come here, and a case is never
referred twice to the same clinic."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from service.cases import events, sla
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Case, Clinic, Referral
from service.outbox import Job, record
from service.routing import (
    Match,
    case_facts,
    clinic_facts,
    rank_clinics,
    referred_clinic_slugs,
    unqualified_reason,
)

log = logging.getLogger(__name__)


class RoutingRefused(ValueError):
    """Staff picked a clinic that cannot take the case; the message names it."""


@dataclass
class RoutingOutcome:
    referrals: list[Referral] = field(default_factory=list)
    reason: str | None = None


def suggestions(case: Case) -> list[Match]:
    """Every clinic that could take the case now, best first, with reasons (for staff)."""
    return rank_clinics(
        case_facts(case), clinic_facts(db.session, case.treatment_id),
        exclude=referred_clinic_slugs(db.session, case.id),
    )


def route(
    case: Case, top_n: int, *, actor: str = events.Actor.SYSTEM, only: list[str] | None = None, dossiers: bool = True,
) -> RoutingOutcome:
    """Refer the case to its best `top_n` new clinics, or to the clinics staff picked
    (`only`, each still through the hard filters), or flag it with the reason. Every new
    referral gets its dossier rendered (and the clinic told), recorded here once for
    automatic and staff routing alike; `dossiers=False` is for the demo seed, whose
    stories are in the past and queue nothing."""
    facts = case_facts(case)
    clinics = clinic_facts(db.session, case.treatment_id)
    exclude = referred_clinic_slugs(db.session, case.id)
    if only is not None:
        picked = set(only)
        matches = [m for m in rank_clinics(facts, clinics, exclude=exclude) if m.clinic_slug in picked]
        refused = picked - {m.clinic_slug for m in matches}
        if refused:
            raise RoutingRefused(
                "Cannot refer to " + ", ".join(sorted(refused))
                + ": already referred, not offering the treatment, not accepting or full."
            )
    else:
        # Only the winners get their components built (rank_clinics' limit).
        matches = rank_clinics(facts, clinics, exclude=exclude, limit=max(0, top_n))
    if not matches:
        reason = unqualified_reason(facts, clinics, exclude=exclude)
        events.change_status(case, CaseStatus.NEEDS_ATTENTION, actor, reason=reason)
        log.info("case %s needs attention: %s", case.reference, reason)
        return RoutingOutcome(reason=reason)
    referrals = _refer(case, matches, dossiers=dossiers)
    events.change_status(
        case, CaseStatus.ROUTED, actor, clinics=[m.clinic_slug for m in matches],
        scores=[round(m.score, 2) for m in matches],
    )
    log.info("case %s referred to %s", case.reference, ", ".join(m.clinic_slug for m in matches))
    return RoutingOutcome(referrals=referrals)


def _refer(case: Case, matches: list[Match], *, dossiers: bool) -> list[Referral]:
    """The referrals for `matches`, flushed, each with its dossier recorded (which tells the clinic)."""
    # Their ids only: nothing here reads the clinics' wide rows.
    ids = dict(db.session.execute(
        select(Clinic.slug, Clinic.id).where(Clinic.slug.in_([m.clinic_slug for m in matches]))
    ).all())
    referrals = [
        Referral(
            case=case,
            clinic_id=ids[m.clinic_slug],
            score=m.score,
            reasons=[{"key": c.key, "points": c.points, "reason": c.reason} for c in m.components],
        )
        for m in matches
    ]
    db.session.add_all(referrals)
    db.session.flush()
    if dossiers:
        for referral in referrals:
            record(Job.RENDER_DOSSIER, case_id=case.id, referral_id=referral.id)
    return referrals


def refer_next(case: Case) -> RoutingOutcome:
    """One more clinic for a case, in place of a clinic that let its clock run out: the
    best-ranked clinic not yet referred, through the same filters and with its dossier
    like any referral. The case's status stays as it is (the other clinics are still
    answering); with no clinic left, the outcome carries the reason and nothing changes."""
    facts = case_facts(case)
    clinics = clinic_facts(db.session, case.treatment_id)
    exclude = referred_clinic_slugs(db.session, case.id)
    matches = rank_clinics(facts, clinics, exclude=exclude, limit=1)
    if not matches:
        return RoutingOutcome(reason=unqualified_reason(facts, clinics, exclude=exclude))
    referrals = _refer(case, matches, dossiers=True)
    sla.refresh_deadline(case)  # the new clinic's clock starts; the status stays
    log.info("case %s escalated to %s", case.reference, matches[0].clinic_slug)
    return RoutingOutcome(referrals=referrals)
