"""The case state machine: every action in every status, what each action does, and
what it refuses. Each allowed action writes exactly one event; a refused one changes
nothing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from forms.staff_case import FORMS
from service.accounts.roles import COORDINATOR
from service.cases import events, referrals, workflow
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import Case, CaseEvent, Clinic, ClinicTreatment, OutboxMessage, PatientQuestion, Quote, Referral, Treatment, User
from tests.fixtures.cases import make_case, submit
from tests.fixtures.staff import make_user
from tests.fixtures.trips import add_passport, standard_trip

S = CaseStatus


def event_count(case: Case) -> int:
    return db.session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == case.id))


def last_event(case: Case) -> CaseEvent:
    return db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc()))


def offering(case: Case) -> list[Clinic]:
    return list(db.session.scalars(
        select(Clinic).join(ClinicTreatment).where(ClinicTreatment.treatment_id == case.treatment_id).order_by(Clinic.slug)
    ))


def accept(case: Case, clinic: Clinic) -> Referral:
    referral = Referral(case=case, clinic=clinic, score=1.0, reasons=[], status=ReferralStatus.ACCEPTED)
    db.session.add(referral)
    db.session.commit()
    return referral


@dataclass
class World:
    case: Case
    user: User
    other: User
    accepted: Referral
    other_treatment: str


@pytest.fixture
def world(client, coordinator) -> World:
    case = submit(client)
    accepted = accept(case, offering(case)[-1])
    other_treatment = db.session.scalar(select(Treatment.slug).where(Treatment.id != case.treatment_id).order_by(Treatment.slug))
    return World(case, coordinator, make_user(COORDINATOR), accepted, other_treatment)


OVERRIDE_REASON = "The patient asked by phone to be put in touch with this clinic too."


def valid_params(action: str, w: World) -> dict:
    return {
        "assign": {"assignee": w.other},
        "set_priority": {"priority": "urgent"},
        "correct_treatment": {"treatment_slug": w.other_treatment},
        "request_info": {"question": "Could you send your latest X-ray, please?"},
        "route": {"top_n": 1},
        "regenerate_paperwork": {},
        # `w.accepted` is not the patient's choice: only with the override and its reason.
        "release_contact": {"referral_id": w.accepted.id, "override": True, "reason": OVERRIDE_REASON},
        "record_choice": {"referral_id": w.accepted.id},
        "close": {"reason": "duplicate"},
        "reopen": {},
        "add_note": {"body": "Called the patient; she prefers May."},
        "book_travel": {},
        "start_treatment": {},
        "mark_returned": {},
    }[action]


def in_status(case: Case, status: CaseStatus) -> Case:
    case.status = status
    db.session.commit()
    return case


# The policy, written out here independently of `workflow.ACTIONS`: a change to what the
# state machine allows has to be made in both places. Columns: submitted, routed,
# needs attention, awaiting patient, chosen, travel booked, in treatment, returned, closed.
_COLUMNS = (S.SUBMITTED, S.ROUTED, S.NEEDS_ATTENTION, S.AWAITING_PATIENT, S.CHOSEN, S.TRAVEL_BOOKED,
            S.IN_TREATMENT, S.RETURNED, S.CLOSED)
POLICY: dict[str, str] = {
    "assign":               "yyyyyyyy.",
    "set_priority":         "yyyyyyyy.",
    "correct_treatment":    "yyyy.....",
    "request_info":         "yyy......",
    "route":                "yyy......",
    "regenerate_paperwork": "yyyyyyyy.",
    "release_contact":      ".y..yyy..",
    "record_choice":        ".y.......",
    "close":                "yyyyyyyy.",
    "reopen":               "........y",
    "add_note":             "yyyyyyyyy",
    "book_travel":          "....y....",
    "start_treatment":      ".....y...",
    "mark_returned":        "......y..",
}


def allowed_by_policy(action: str, status: CaseStatus) -> bool:
    return POLICY[action][_COLUMNS.index(status)] == "y"


def test_the_policy_names_every_action_and_status():
    assert set(POLICY) == set(workflow.ACTIONS) and set(_COLUMNS) == set(S)


def test_every_action_has_a_form_and_a_label():
    assert set(FORMS) == set(workflow.ACTIONS)
    assert all(a.label and a.allowed for a in workflow.ACTIONS.values())


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("action", list(workflow.ACTIONS))
def test_every_action_in_every_status(world, action, status):
    case = in_status(world.case, status)
    if action == "book_travel":
        # Marking the travel booked needs the patient's passport and the outbound flight.
        add_passport(case)
        standard_trip(case)
        db.session.commit()
    spec = workflow.ACTIONS[action]
    before = (case.status, case.version, event_count(case))
    allowed = allowed_by_policy(action, status)
    assert (spec in workflow.allowed_actions(case)) == allowed

    if allowed:
        workflow.perform(case, action, world.user, expected_version=case.version, **valid_params(action, world))
        db.session.commit()
        assert event_count(case) == before[2] + 1
        assert last_event(case).actor == f"staff:{world.user.email}"
        assert case.version == before[1] + 1
    else:
        with pytest.raises(workflow.ActionRefused, match="not possible while the case is"):
            workflow.perform(case, action, world.user, expected_version=case.version, **valid_params(action, world))
        db.session.commit()
        db.session.expire_all()
        assert (case.status, case.version, event_count(case)) == before


def test_each_action_records_what_it_did(world):
    case, user = world.case, world.user
    workflow.perform(case, "assign", user, assignee=world.other)
    assert (case.assignee, last_event(case).kind, last_event(case).details["assignee"]) == (world.other, "assigned", world.other.email)
    workflow.perform(case, "assign", user, assignee=None)
    assert case.assignee is None and last_event(case).kind == "unassigned"
    workflow.perform(case, "set_priority", user, priority="high")
    assert case.priority == "high" and last_event(case).details == {"old": "normal", "new": "high"}
    workflow.perform(case, "correct_treatment", user, treatment_slug=world.other_treatment)
    assert case.treatment.slug == world.other_treatment
    assert events.describe(last_event(case)).startswith("Treatment corrected from ")
    workflow.perform(case, "add_note", user, body="  Patient called.  ")
    assert last_event(case).details == {"body": "Patient called."}
    assert events.describe(last_event(case)) == "Note: Patient called."


def test_bad_input_is_refused_without_touching_the_case(world):
    case, user = world.case, world.user
    refusals = [
        ("assign", {"assignee": None}, "not assigned to anyone"),
        ("assign", {"assignee": make_user(COORDINATOR, active=False)}, "cannot take cases"),
        ("set_priority", {"priority": "whenever"}, "Priority must be one of"),
        ("set_priority", {"priority": "normal"}, "already normal"),
        ("correct_treatment", {"treatment_slug": "no-such-thing"}, "Unknown treatment"),
        ("correct_treatment", {"treatment_slug": case.treatment.slug}, "already for"),
        ("request_info", {"question": "Why?"}, "10 to 2,000 characters"),
        ("route", {"clinic_slugs": []}, "Pick at least one clinic"),
        ("route", {"top_n": 0}, "between 1 and"),
        ("close", {"reason": "bored"}, "Choose a reason to close"),
        ("close", {"reason": ""}, "Choose a reason to close"),
        ("add_note", {"body": "   "}, "1 to 5,000 characters"),
    ]
    for action, params, message in refusals:
        before = (case.status, case.version, case.priority, case.treatment_id, case.assignee_id, event_count(case))
        with pytest.raises(workflow.ActionRefused, match=message):
            workflow.perform(case, action, user, expected_version=case.version, **params)
        db.session.rollback()
        assert (case.status, case.version, case.priority, case.treatment_id, case.assignee_id, event_count(case)) == before


def test_unknown_action_and_stale_version_are_refused(world):
    case = world.case
    with pytest.raises(workflow.ActionRefused, match="Unknown action"):
        workflow.perform(case, "delete", world.user)
    with pytest.raises(workflow.CaseChanged, match="changed since you opened it"):
        workflow.perform(case, "add_note", world.user, expected_version=case.version - 1, body="x")
    assert event_count(case) == 1


def test_every_action_bumps_the_version_even_a_note(world):
    case = world.case
    version = case.version
    workflow.perform(case, "add_note", world.user, expected_version=version, body="first")
    db.session.commit()
    assert case.version == version + 1
    with pytest.raises(workflow.CaseChanged):
        workflow.perform(case, "set_priority", world.user, expected_version=version, priority="high")


def test_a_concurrent_commit_surfaces_as_case_changed(world):
    """Another transaction bumped the row after this one loaded it: the flush's
    `WHERE version = ...` matches nothing, and nothing is applied."""
    case = world.case
    db.session.execute(text("UPDATE cases SET version = version + 1 WHERE id = :id"), {"id": case.id})
    with pytest.raises(workflow.CaseChanged):
        workflow.perform(case, "set_priority", world.user, expected_version=case.version, priority="high")
    db.session.rollback()
    assert case.priority == "normal"


def test_request_info_waits_on_the_patient_and_the_answer_resumes_where_it_was(world):
    case = in_status(world.case, S.ROUTED)
    asked = workflow.perform(case, "request_info", world.user, question="Which knee hurts, left or right?")
    db.session.commit()
    assert case.status == S.AWAITING_PATIENT and case.sla_paused_since is not None
    assert workflow.open_question(case) is asked and asked.resume_status == S.ROUTED
    assert last_event(case).details["question"] == "Which knee hurts, left or right?"

    case.sla_paused_since -= timedelta(hours=5)
    workflow.patient_answered(case, asked, "The left one.")
    db.session.commit()
    assert case.status == S.ROUTED and case.sla_paused_since is None
    assert 5 * 3600 <= case.sla_paused_seconds < 5 * 3600 + 60
    assert (asked.answer, asked.answered_at is not None) == ("The left one.", True)
    assert workflow.open_question(case) is None
    assert last_event(case).actor == events.Actor.PATIENT and last_event(case).details["new"] == S.ROUTED

    second = workflow.perform(case, "request_info", world.user, question="And since when, roughly?")
    case.sla_paused_since -= timedelta(hours=2)
    workflow.patient_answered(case, second, "Since 2019.")
    assert 7 * 3600 <= case.sla_paused_seconds < 7 * 3600 + 120


def test_patient_answer_is_refused_without_an_open_question_or_text(world):
    case = world.case
    asked = workflow.perform(case, "request_info", world.user, question="Which knee hurts, left or right?")
    with pytest.raises(workflow.ActionRefused, match="1 to"):
        workflow.patient_answered(case, asked, "   ")
    workflow.patient_answered(case, asked, "Left.")
    with pytest.raises(workflow.ActionRefused, match="no open question"):
        workflow.patient_answered(case, asked, "Left, again.")


def test_closing_while_waiting_stops_the_pause(world):
    case = world.case
    workflow.perform(case, "request_info", world.user, question="Which knee hurts, left or right?")
    case.sla_paused_since -= timedelta(hours=1)
    workflow.perform(case, "close", world.user, reason="declined_by_patient")
    assert case.status == S.CLOSED and case.closed_reason == "declined_by_patient"
    assert case.sla_paused_since is None and case.sla_paused_seconds >= 3600


def test_release_contact_needs_an_accepted_referral_and_happens_once(world):
    case = in_status(world.case, S.ROUTED)
    pending = Referral(case=case, clinic=offering(case)[0], score=1.0, reasons=[], status=ReferralStatus.PENDING)
    db.session.add(pending)
    db.session.commit()
    with pytest.raises(workflow.ActionRefused, match="has not accepted"):
        workflow.perform(case, "release_contact", world.user, referral_id=pending.id)
    stranger = accept(submit_other(case), offering(case)[1])
    with pytest.raises(workflow.ActionRefused, match="does not belong"):
        workflow.perform(case, "release_contact", world.user, referral_id=stranger.id)

    choose(case, world.accepted)
    workflow.perform(case, "release_contact", world.user, referral_id=world.accepted.id)
    assert world.accepted.contact_released_at is not None
    clinic = world.accepted.clinic
    assert last_event(case).details == {"clinic": clinic.slug, "clinic_name": clinic.name}
    assert events.describe(last_event(case)) == f"Patient's contact details released to {clinic.name}"
    with pytest.raises(workflow.ActionRefused, match="already released"):
        workflow.perform(case, "release_contact", world.user, referral_id=world.accepted.id)


def choose(case: Case, referral: Referral) -> Quote:
    """The patient's choice of `referral`'s quote, made directly (the case stays in its status)."""
    quote = Quote(referral=referral, version=1, price=Decimal("9000"), currency="EUR", includes=["treatment"],
                  earliest_date=date.today(), stay_days=5, valid_until=date.today() + timedelta(days=30))
    db.session.add(quote)
    case.chosen_quote = quote
    db.session.commit()
    return quote


def test_releasing_to_a_clinic_the_patient_did_not_choose_needs_the_override_and_a_reason(world):
    case = in_status(world.case, S.CHOSEN)
    chosen = accept(case, offering(case)[0])
    choose(case, chosen)
    other = world.accepted
    before = event_count(case)
    with pytest.raises(workflow.ActionRefused, match="not the clinic the patient chose") as refused:
        workflow.perform(case, "release_contact", world.user, referral_id=other.id)
    assert set(refused.value.errors) == {"override"}
    for reason in ("", "   too short  ", "x" * 501):
        with pytest.raises(workflow.ActionRefused, match="10 to 500 characters") as refused:
            workflow.perform(case, "release_contact", world.user, referral_id=other.id, override=True, reason=reason)
        assert set(refused.value.errors) == {"reason"}
    db.session.rollback()
    assert other.contact_released_at is None and event_count(case) == before

    workflow.perform(case, "release_contact", world.user, referral_id=other.id, override=True,
                     reason=f"  {OVERRIDE_REASON} ")
    assert other.contact_released_at is not None
    assert last_event(case).details == {"clinic": other.clinic.slug, "clinic_name": other.clinic.name,
                                        "override": True, "reason": OVERRIDE_REASON}
    # The chosen clinic needs no override; an override ticked for it records none.
    workflow.perform(case, "release_contact", world.user, referral_id=chosen.id, override=True, reason="")
    assert last_event(case).details == {"clinic": chosen.clinic.slug, "clinic_name": chosen.clinic.name}


def submit_other(case: Case) -> Case:
    other = make_case(
        now=datetime.now(timezone.utc), full_name="Other", email="o@example.org", country="DE", language="de",
        treatment_id=case.treatment_id, description="Other case.",
    )
    db.session.commit()
    return other


def test_record_choice_needs_an_accepted_referral_and_marks_the_case_chosen(world):
    case = in_status(world.case, S.ROUTED)
    declined = Referral(case=case, clinic=offering(case)[0], score=1.0, reasons=[], status=ReferralStatus.DECLINED)
    db.session.add(declined)
    db.session.commit()
    with pytest.raises(workflow.ActionRefused, match="cannot be chosen"):
        workflow.perform(case, "record_choice", world.user, referral_id=declined.id)
    assert case.status == S.ROUTED
    workflow.perform(case, "record_choice", world.user, referral_id=world.accepted.id)
    assert case.status == S.CHOSEN
    assert last_event(case).details["clinic"] == world.accepted.clinic.slug


def test_close_needs_a_listed_reason_and_reopen_brings_it_back(world):
    case = world.case
    for reason in workflow.CLOSE_REASONS:
        workflow.perform(case, "close", world.user, reason=reason)
        assert case.status == S.CLOSED and case.closed_reason == reason
        assert last_event(case).details["reason"] == reason
        assert workflow.allowed_actions(case) == [workflow.ACTIONS["reopen"], workflow.ACTIONS["add_note"]]
        workflow.perform(case, "reopen", world.user)
        assert case.status == workflow.REOPEN_STATUS and case.closed_reason is None


def test_route_to_suggestions_writes_referrals_and_their_dossier_work(world):
    case = world.case
    outcome = workflow.perform(case, "route", world.user, top_n=2)
    assert case.status == S.ROUTED and len(outcome.referrals) == 2
    jobs = list(db.session.scalars(select(OutboxMessage.payload).where(
        OutboxMessage.case_id == case.id, OutboxMessage.job == "render_dossier"
    )))
    assert sorted(j["referral_id"] for j in jobs) == sorted(r.id for r in outcome.referrals)
    assert case.first_response_at is not None


def test_route_by_hand_refuses_a_clinic_already_referred(world):
    case = world.case
    already = world.accepted.clinic.slug
    fresh = next(c.slug for c in offering(case) if c.slug != already)
    before = event_count(case)
    with pytest.raises(workflow.ActionRefused, match=f"Cannot refer to {already}: already referred"):
        workflow.perform(case, "route", world.user, clinic_slugs=[already, fresh])
    db.session.rollback()
    assert case.status == S.SUBMITTED and event_count(case) == before
    workflow.perform(case, "route", world.user, clinic_slugs=[fresh])
    assert case.status == S.ROUTED
    assert {r.clinic.slug for r in db.session.scalars(select(Referral).where(Referral.case_id == case.id))} == {already, fresh}


def test_route_with_no_clinic_left_is_refused_with_the_reason(world):
    case = world.case
    for clinic in offering(case):
        if clinic.id != world.accepted.clinic_id:
            db.session.add(Referral(case=case, clinic=clinic, score=1.0, reasons=[], status=ReferralStatus.PENDING))
    db.session.commit()
    assert referrals.suggestions(case) == []
    with pytest.raises(workflow.ActionRefused, match="No clinic can take this case now: .*already referred"):
        workflow.perform(case, "route", world.user, top_n=3)
    assert case.status == S.SUBMITTED


def test_regenerate_paperwork_queues_the_confirmation_and_every_dossier(world):
    case = world.case
    workflow.perform(case, "regenerate_paperwork", world.user)
    jobs = list(db.session.scalars(select(OutboxMessage.job).where(
        OutboxMessage.case_id == case.id, OutboxMessage.status == "pending"
    )))
    assert jobs.count("render_dossier") == 1 and "render_confirmation" in jobs
    assert last_event(case).kind == "paperwork_requested"


def test_a_note_is_not_a_response_but_other_actions_are(world):
    case = world.case
    workflow.perform(case, "add_note", world.user, body="Looks like a duplicate.")
    assert case.first_response_at is None
    workflow.perform(case, "set_priority", world.user, priority="low")
    assert case.first_response_at is not None


def test_the_patient_never_sees_staff_events(world):
    case = world.case
    workflow.record_view(case, world.user)
    workflow.perform(case, "add_note", world.user, body="Internal: difficult patient.")
    workflow.perform(case, "assign", world.user, assignee=world.user)
    workflow.perform(case, "request_info", world.user, question="Which knee hurts, left or right?")
    db.session.commit()
    shown = events.patient_timeline(case)
    assert {e.kind for e in shown} == {"case_submitted", "status_changed"}
    assert all(world.user.email not in events.describe(e) for e in shown)
    assert "Internal" not in " ".join(events.describe(e) for e in shown)


def test_questions_are_stored_with_who_asked(world):
    asked = workflow.perform(world.case, "request_info", world.user, question="  Which knee hurts, left or right?  ")
    db.session.commit()
    stored = db.session.get(PatientQuestion, asked.id)
    assert (stored.question, stored.asked_by, stored.resume_status) == (
        "Which knee hurts, left or right?", world.user, S.SUBMITTED,
    )


def _queue_behind(world, client) -> Case:
    """`world.user` holds `world.case` at capacity 1, nobody else has room; one case waits."""
    from service.cases import assignment

    for coordinator in db.session.scalars(select(User).where(User.role == COORDINATOR)):
        coordinator.capacity = 0
    world.user.capacity = 1
    workflow.perform(world.case, "assign", world.user, assignee=world.user)
    waiting = submit(client, email="waiting@example.org")
    assert assignment.assign_new(waiting) is None
    db.session.commit()
    assert assignment.waiting_cases() == [waiting]
    return waiting


def test_closing_hands_a_queued_case_to_the_coordinator_it_freed(world, client):
    waiting = _queue_behind(world, client)
    before = event_count(world.case)
    workflow.perform(world.case, "close", world.user, reason="booked")
    db.session.commit()
    assert waiting.assignee == world.user
    assert event_count(world.case) == before + 1  # the closed case has its one event; the other its own
    assert last_event(waiting).actor == events.Actor.SYSTEM


def test_reassigning_frees_the_previous_coordinator_for_a_queued_case(world, client):
    waiting = _queue_behind(world, client)
    world.other.capacity = 5
    workflow.perform(world.case, "assign", world.user, assignee=world.other)
    db.session.commit()
    assert waiting.assignee == world.user


def test_erasure_removes_the_override_reason_and_keeps_the_fact(world, storage):
    from service.cases import erasure

    case = in_status(world.case, S.ROUTED)
    workflow.perform(case, "release_contact", world.user, referral_id=world.accepted.id, override=True,
                     reason=OVERRIDE_REASON)
    db.session.commit()
    event = last_event(case)
    case.status = S.CLOSED
    db.session.commit()
    erasure.erase(case, storage)
    db.session.commit()
    db.session.expire_all()
    kept = db.session.get(CaseEvent, event.id).details
    assert "reason" not in kept and kept["override"] is True and kept["clinic"] == world.accepted.clinic.slug
