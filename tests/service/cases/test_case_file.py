"""The case file's read model (service/cases/case_file.py) without a request: a case
and a viewer in, the page's data out."""
from __future__ import annotations

from sqlalchemy import select

from service.accounts.roles import ADMIN, COORDINATOR
from service.cases import events
from service.cases.case_file import TIMELINE_PAGE, case_file
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import Clinic, ClinicTreatment
from tests.fixtures.cases import make_case
from tests.fixtures.referrals import make_referral
from tests.fixtures.staff import make_user


def offering(case) -> list[Clinic]:
    return list(db.session.scalars(
        select(Clinic).join(ClinicTreatment).where(ClinicTreatment.treatment_id == case.treatment_id)
        .order_by(Clinic.slug)
    ))


def test_referrals_best_first_and_the_clinics_for_routing_by_hand(app_ctx):
    case = make_case(country="KZ", language="ru")
    low, high, *rest = offering(case)
    make_referral(case, low, score=1.0, status=ReferralStatus.DECLINED)
    make_referral(case, high, score=9.0, status=ReferralStatus.ACCEPTED)
    viewer = make_user(COORDINATOR)

    shown = case_file(db.session, case, viewer)

    assert [r.clinic.slug for r in shown.referrals] == [high.slug, low.slug]
    assert [r.clinic.slug for r in shown.accepted] == [high.slug]
    assert "route" in shown.allowed
    referred = {m.slug: m.referred for m in shown.manual_clinics}
    assert referred[low.slug] and referred[high.slug] and not any(referred[c.slug] for c in rest)
    suggested = {m.clinic_slug for m in shown.suggestions}
    assert not suggested & {low.slug, high.slug}
    assert all((m.match is not None) == (m.slug in suggested) for m in shown.manual_clinics)
    assert (shown.country_name, shown.language_name) == ("Kazakhstan", "Russian")
    assert shown.me is viewer and not shown.can_export_audit
    assert case_file(db.session, case, make_user(ADMIN)).can_export_audit


def test_a_closed_case_has_no_suggestions_and_no_routing(app_ctx):
    case = make_case(status=CaseStatus.CLOSED, closed_reason="booked")
    shown = case_file(db.session, case, make_user(COORDINATOR))
    assert shown.suggestions == [] and shown.manual_clinics == []
    assert "route" not in shown.allowed and "reopen" in shown.allowed


def test_the_timeline_pages_newest_first_and_names_the_clinics_it_mentions(app_ctx):
    case = make_case()
    clinic = offering(case)[0]
    for n in range(TIMELINE_PAGE):
        events.record_event(case, events.Actor.SYSTEM, events.EventKind.NOTE, body=f"note {n}")
    events.record_event(case, "system", "routed", clinics=[clinic.slug])
    db.session.flush()
    viewer = make_user(COORDINATOR)

    first = case_file(db.session, case, viewer)
    assert (first.page, first.pages, len(first.timeline)) == (1, 2, TIMELINE_PAGE)
    assert first.timeline[0].kind == "routed"
    assert first.clinic_names == {clinic.slug: clinic.name}
    assert len(first.notes) == TIMELINE_PAGE

    past_the_end = case_file(db.session, case, viewer, page=99)
    assert (past_the_end.page, len(past_the_end.timeline)) == (2, 1)
    assert past_the_end.timeline[0].details == {"body": "note 0"}
    assert past_the_end.clinic_names == {}
    assert case_file(db.session, case, viewer, page=-3).page == 1


def test_the_template_context_is_every_field(app_ctx):
    shown = case_file(db.session, make_case(), make_user(COORDINATOR))
    context = shown.template_context()
    assert context["case"] is shown.case and context["timeline"] is shown.timeline
    assert set(context) == set(shown.__dataclass_fields__)


def test_the_conversation_newest_first_with_what_replying_and_forwarding_need(app_ctx):
    from service.cases import messages

    case = make_case(language="ru")
    still, gone = offering(case)[:2]
    open_referral = make_referral(case, still, status=ReferralStatus.ACCEPTED)
    closed_referral = make_referral(case, gone, status=ReferralStatus.DECLINED)
    viewer = make_user(COORDINATOR)
    first = messages.post_patient_message(case, "First.", [])
    second = messages.post_staff_message(case, viewer, "Second.")

    shown = case_file(db.session, case, viewer)

    assert [entry.message for entry in shown.messages] == [second, first]
    assert shown.reply_language == "ru"
    assert shown.forward_targets == [open_referral]
    assert shown.referral_names == {open_referral.id: still.name, closed_referral.id: gone.name}
    assert {t.key for t in shown.reply_templates} >= {"missing-xray", "passport-copy", "companion"}
