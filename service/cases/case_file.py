"""The staff case file's read model: everything its page shows about one case, for
one viewer, assembled from the database as plain data (the view only loads, authorises,
builds the action forms and renders, as `queue` serves the queue)."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cases import derivatives, messages, referrals, reply_templates, sla, workflow
from service.cases.events import EventKind
from service.cases.quote_panel import QuotePanel, quote_panel
from service.cases.sla import CaseSla
from service.cases.status import CaseStatus, ReferralStatus
from service.choices import countries, languages
from service.models import Case, CaseEvent, Clinic, Document, PatientQuestion, Referral, ReplyTemplate, User
from service.models.roles import ADMIN, GRANTS
from service.routing import Match

TIMELINE_PAGE: Final = 50


@dataclass(frozen=True)
class ManualClinic:
    """A clinic offering the case's treatment, for routing by hand."""

    slug: str
    name: str
    country: str
    referred: bool
    match: Match | None


@dataclass(frozen=True)
class CaseFile:
    """What the case file's page shows; field names are the template's."""

    case: Case
    me: User
    allowed: list[str]
    sla: CaseSla
    suggestions: list[Match]
    referrals: list[Referral]
    accepted: list[Referral]
    manual_clinics: list[ManualClinic]
    documents: list[Document]
    questions: list[PatientQuestion]
    notes: list[CaseEvent]
    timeline: list[CaseEvent]
    page: int
    pages: int
    clinic_names: dict[str, str]
    country_name: str
    language_name: str
    can_export_audit: bool
    # The conversation, newest first like the timeline, and what replying needs.
    messages: list[messages.ThreadEntry]
    reply_templates: list[ReplyTemplate]
    reply_language: str
    forward_targets: list[Referral]
    referral_names: dict[int, str]
    # Each file's previews, clinic copy and (a disc's) series, by attachment id.
    files: dict[int, derivatives.FileView]
    # Every version of every clinic's quote, in the patient's currency, and the choice.
    quote_panel: QuotePanel

    def template_context(self) -> dict[str, object]:
        """The fields as template variables (shallow: the rows stay the session's)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _clinic_names(session: Session, timeline: list[CaseEvent]) -> dict[str, str]:
    """Names of the clinics the page's events mention by slug (one query)."""
    slugs: set[str] = set()
    for event in timeline:
        details = event.details or {}
        slugs.update(details.get("clinics") or [])
        if isinstance(details.get("clinic"), str):
            slugs.add(details["clinic"])
    if not slugs:
        return {}
    return {slug: name for slug, name in session.execute(select(Clinic.slug, Clinic.name).where(Clinic.slug.in_(slugs)))}


def _timeline_page(session: Session, case: Case, page: int) -> tuple[list[CaseEvent], int, int]:
    """One page of events, newest first; a page out of range shows the nearest one."""
    total = session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == case.id)) or 0
    pages = max(1, math.ceil(total / TIMELINE_PAGE))
    page = min(max(page, 1), pages)
    rows = list(session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.id.desc()).offset((page - 1) * TIMELINE_PAGE).limit(TIMELINE_PAGE)
    ))
    return rows, page, pages


def case_file(session: Session, case: Case, viewer: User, *, page: int = 1) -> CaseFile:
    """The case file of `case` as `viewer` sees it, with page `page` of its timeline."""
    allowed = [a.name for a in workflow.allowed_actions(case)]
    case_referrals = list(session.scalars(
        select(Referral).where(Referral.case_id == case.id).order_by(Referral.score.desc(), Referral.id)
    ))
    suggestions = referrals.suggestions(case) if case.status != CaseStatus.CLOSED else []
    by_slug = {m.clinic_slug: m for m in suggestions}
    referred = {r.clinic.slug for r in case_referrals}
    manual = [
        ManualClinic(c.slug, c.name, c.country, c.slug in referred, by_slug.get(c.slug))
        for c in workflow.clinics_for_manual_routing(case)
    ] if "route" in allowed else []
    timeline, page, pages = _timeline_page(session, case, page)
    return CaseFile(
        case=case,
        me=viewer,
        allowed=allowed,
        sla=sla.case_sla(case),
        suggestions=suggestions,
        referrals=case_referrals,
        accepted=[r for r in case_referrals if r.status == ReferralStatus.ACCEPTED],
        manual_clinics=manual,
        documents=list(session.scalars(
            select(Document).where(Document.case_id == case.id).order_by(Document.id)
        )),
        questions=list(session.scalars(
            select(PatientQuestion).where(PatientQuestion.case_id == case.id).order_by(PatientQuestion.id.desc())
        )),
        notes=list(session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.NOTE)
            .order_by(CaseEvent.id.desc())
        )),
        timeline=timeline,
        page=page,
        pages=pages,
        clinic_names=_clinic_names(session, timeline),
        country_name=dict(countries()).get(case.country, case.country),
        language_name=dict(languages()).get(case.language, case.language),
        can_export_audit=viewer.role in GRANTS[ADMIN],
        messages=list(reversed(messages.thread(case))),
        reply_templates=reply_templates.all_templates(),
        reply_language=reply_templates.language_of(case),
        # A message goes only to a clinic still working on the case (`forward_to_referral`).
        forward_targets=[r for r in case_referrals if r.status in ReferralStatus.open()],
        referral_names={r.id: r.clinic.name for r in case_referrals},
        files=derivatives.file_views(case.attachments),
        quote_panel=quote_panel(session, case),
    )
