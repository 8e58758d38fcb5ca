"""Automatic assignment: least open load among coordinators under capacity, ties by
fewest total then id; no room → queued (once), assigned oldest first when room frees;
one system "assigned" event per automatic assignment; people's decisions stand."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from service.accounts import users as accounts
from service.accounts.roles import ADMIN, COORDINATOR
from service.cases import assignment, workflow
from service.cases.events import EventKind
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Case, CaseEvent, User
from tests.fixtures.cases import rows, submit
from tests.fixtures.staff import make_user
from tests.fixtures.cases import hours, make_case
from tests.fixtures.statements import recorded_statements
from workers import jobs


def events_of(case: Case, kind: str) -> list[CaseEvent]:
    return list(db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == kind).order_by(CaseEvent.id)
    ))


def holding(user: User, open_: int = 0, closed: int = 0) -> None:
    for _ in range(open_):
        make_case(assignee=user, status=CaseStatus.ROUTED)
    for _ in range(closed):
        make_case(assignee=user, status=CaseStatus.CLOSED, closed_reason="booked")


def test_the_coordinator_with_the_lowest_open_load_gets_the_case(db_session):
    busy, light = make_user(), make_user()
    holding(busy, open_=3)
    holding(light, open_=1, closed=5)
    case = make_case()
    assert assignment.assign_new(case) == light
    assert case.assignee == light
    [event] = events_of(case, "assigned")
    assert event.actor == "system"
    assert event.details["assignee"] == light.email and event.details["automatic"] is True


def test_ties_go_to_fewest_cases_in_total_then_the_lowest_id(db_session):
    first, second, third = make_user(), make_user(), make_user()
    holding(first, open_=1, closed=2)
    holding(second, open_=1, closed=1)
    holding(third, open_=1, closed=1)
    assert assignment.assign_new(make_case()) == second


def test_full_inactive_and_admin_users_are_passed_by(db_session):
    full = make_user(capacity=2)
    holding(full, open_=2)
    make_user(active=False)
    make_user(ADMIN)
    roomy = make_user(capacity=5)
    holding(roomy, open_=4)
    assert assignment.assign_new(make_case()) == roomy


def test_with_no_room_the_case_is_queued_once(db_session):
    full = make_user(capacity=1)
    holding(full, open_=1)
    case = make_case()
    assert assignment.assign_new(case) is None
    assert assignment.assign_new(case) is None
    assert case.assignee is None
    [queued] = events_of(case, EventKind.ASSIGNMENT_QUEUED)
    assert queued.actor == "system" and "capacity" in queued.details["reason"]
    assert events_of(case, "assigned") == []
    assert assignment.waiting_cases() == [case]


def test_queued_cases_are_assigned_oldest_first_when_a_case_closes(app, db_session):
    coordinator = make_user(capacity=2)
    held = make_case(assignee=coordinator, status=CaseStatus.ROUTED, age=hours(50))
    make_case(assignee=coordinator, status=CaseStatus.ROUTED, age=hours(50))
    newer, older = make_case(age=hours(1)), make_case(age=hours(5))
    assignment.assign_new(newer)
    assignment.assign_new(older)
    assert assignment.waiting_cases() == [older, newer]

    workflow.perform(held, "close", coordinator, reason="booked")
    assert older.assignee == coordinator and newer.assignee is None
    assert len(events_of(older, "assigned")) == 1
    assert assignment.waiting_cases() == [newer]


def test_nothing_is_handed_out_when_auto_assignment_is_off(app, db_session, monkeypatch):
    coordinator = make_user(capacity=1)
    held = make_case(assignee=coordinator, status=CaseStatus.ROUTED)
    waiting = make_case()
    assignment.assign_new(waiting)
    monkeypatch.setitem(app.config, "AUTO_ASSIGN", False)
    workflow.perform(held, "close", coordinator, reason="spam")
    assert assignment.capacity_freed() == []
    assert waiting.assignee is None and assignment.waiting_cases() == [waiting]


@pytest.mark.parametrize("change", ["raise_capacity", "enable", "create"])
def test_queued_cases_are_handed_out_when_an_admin_adds_room(app, db_session, change):
    full = make_user(capacity=1)
    holding(full, open_=1)
    disabled = make_user(capacity=5, active=False)
    waiting = make_case()
    assignment.assign_new(waiting)
    assert assignment.waiting_cases() == [waiting]
    if change == "raise_capacity":
        accounts.set_capacity(full, 2, actor="admin@x")
        expected = full
    elif change == "enable":
        accounts.set_active(disabled, True, actor="admin@x")
        expected = disabled
    else:
        expected = accounts.create_user("new@medtour.example", COORDINATOR, "a long enough password", actor="admin@x")
    assert waiting.assignee == expected and assignment.waiting_cases() == []


def test_lowering_capacity_or_disabling_hands_out_nothing(app, db_session):
    full = make_user(capacity=1)
    holding(full, open_=1)
    other = make_user(capacity=0)
    waiting = make_case()
    assignment.assign_new(waiting)
    accounts.set_capacity(full, 0, actor="admin@x")
    accounts.set_active(other, False, actor="admin@x")
    assert waiting.assignee is None and assignment.waiting_cases() == [waiting]


def test_a_persons_decision_is_not_overridden(db_session):
    """A case staff unassigned, and a case that was never queued, are not picked up."""
    coordinator = make_user(capacity=1)
    holding(coordinator, open_=1)
    queued = make_case()
    assignment.assign_new(queued)
    workflow.perform(queued, "assign", coordinator, assignee=coordinator)
    workflow.perform(queued, "assign", coordinator, assignee=None)
    make_case()  # unassigned, never through automatic assignment
    coordinator.capacity = 10
    assert assignment.assign_waiting() == []


def test_an_assigned_or_closed_case_is_left_alone(db_session):
    owner = make_user()
    holding(owner, open_=3)
    make_user()  # has room: assignment would be possible
    assigned = make_case(assignee=owner)
    closed = make_case(status=CaseStatus.CLOSED, closed_reason="duplicate")
    assert assignment.assign_new(assigned) is None and assigned.assignee == owner
    assert assignment.assign_new(closed) is None and closed.assignee is None
    assert events_of(assigned, "assigned") == events_of(closed, "assigned") == []


def test_a_new_request_is_assigned_by_its_routing_job_run_twice(app, client):
    """One light job per request: the routing job carries the assignment (no second
    job with its own bookkeeping and transaction)."""
    coordinator = make_user()
    case = submit(client)
    assert rows(case, "assign_case") == []
    [message] = rows(case, "route_case")
    assert message.payload == {"assign": True}
    jobs.route_case(case_id=message.case_id, **message.payload)
    jobs.route_case(case_id=message.case_id, **message.payload)
    db.session.commit()
    assert case.assignee == coordinator
    assert case.status in (CaseStatus.ROUTED, CaseStatus.NEEDS_ATTENTION)
    assert len(events_of(case, "assigned")) == 1


def test_routing_that_fails_does_not_hold_the_assignment_back(app, client, monkeypatch):
    coordinator = make_user()
    case = submit(client)
    [message] = rows(case, "route_case")

    def broken(*_args, **_kwargs):
        raise RuntimeError("ranking broke")

    monkeypatch.setattr(jobs.referrals, "route", broken)
    with pytest.raises(RuntimeError, match="ranking broke"):
        jobs.route_case(case_id=message.case_id, **message.payload)
    db.session.rollback()
    db.session.expire_all()
    assert case.assignee == coordinator  # committed on its own, before the failure went on
    assert case.status == CaseStatus.SUBMITTED  # the routing is retried later
    monkeypatch.undo()
    jobs.route_case(case_id=message.case_id, **message.payload)  # the retry
    db.session.commit()
    assert case.status in (CaseStatus.ROUTED, CaseStatus.NEEDS_ATTENTION)
    assert len(events_of(case, "assigned")) == 1


def test_without_automatic_routing_the_assignment_is_a_job_of_its_own(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_ROUTE", False)
    coordinator = make_user()
    case = submit(client)
    assert rows(case, "route_case") == []
    [message] = rows(case, "assign_case")
    jobs.assign_case(case_id=message.case_id)
    db.session.commit()
    assert case.assignee == coordinator


def test_the_job_first_serves_cases_already_waiting(app, client):
    coordinator = make_user(capacity=1)
    held = make_case(assignee=coordinator, status=CaseStatus.ROUTED, age=hours(9))
    waiting = make_case(age=hours(3))
    assignment.assign_new(waiting)
    held.status = CaseStatus.CLOSED  # room freed without anyone handing out the queue
    db.session.commit()
    case = submit(client)
    jobs.assign_case(case_id=case.id)
    assert waiting.assignee == coordinator
    assert case.assignee is None and assignment.waiting_cases() == [case]


def test_no_assignment_job_is_recorded_when_auto_assignment_is_off(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_ASSIGN", False)
    case = submit(client)
    assert rows(case, "assign_case") == []
    [message] = rows(case, "route_case")
    assert message.payload == {}


def test_with_no_room_the_queue_is_not_loaded_beyond_its_first_case(app, db_session):
    """Every new case's `assign_case` runs `assign_waiting`: loading the whole queue made
    each run cost as much as the queue is long."""
    coordinator = make_user(capacity=1)
    holding(coordinator, open_=1)
    queued = [make_case(age=hours(n)) for n in (3, 2, 1)]
    for case in queued:
        assignment.assign_new(case)
    db.session.commit()
    oldest = queued[0].id
    db.session.expunge_all()
    loaded: list[int] = []

    def count(case: Case, _context) -> None:
        loaded.append(case.id)

    event.listen(Case, "load", count)
    try:
        assert assignment.assign_waiting() == []
    finally:
        event.remove(Case, "load", count)
    assert loaded == [oldest]


def test_with_no_room_a_new_case_is_queued_without_reading_the_queue(app, db_session):
    """The job of every new case: when nobody has room, the queue (longest exactly then)
    is not read at all, so the job costs the same statements however long it is."""
    coordinator = make_user(capacity=1)
    holding(coordinator, open_=1)

    def statements_to_queue_one_more() -> list[str]:
        arriving = make_case()
        db.session.commit()
        loaded: list[int] = []
        listener = lambda case, _context: loaded.append(case.id)  # noqa: E731
        event.listen(Case, "load", listener)
        try:
            with recorded_statements(db.engine) as statements:
                assert assignment.assign_arriving(arriving) is None
        finally:
            event.remove(Case, "load", listener)
        db.session.commit()
        assert loaded == []
        assert [e.kind for e in events_of(arriving, EventKind.ASSIGNMENT_QUEUED)] == [EventKind.ASSIGNMENT_QUEUED]
        return statements

    with_one = statements_to_queue_one_more()
    for _ in range(5):
        statements_to_queue_one_more()
    with_six = statements_to_queue_one_more()
    assert len(with_six) == len(with_one)
    assert not [s for s in with_six if "FROM cases" in s and "case_events" in s]
    assert len(assignment.waiting_cases()) == 7


def test_a_new_case_waits_behind_the_queue_when_room_frees_for_one(app, db_session):
    coordinator = make_user(capacity=2)
    held = make_case(assignee=coordinator, status=CaseStatus.ROUTED, age=hours(9))
    make_case(assignee=coordinator, status=CaseStatus.ROUTED, age=hours(9))
    waiting = make_case(age=hours(3))
    assignment.assign_new(waiting)
    held.status = CaseStatus.CLOSED
    arriving = make_case()
    assert assignment.assign_arriving(arriving) is None
    assert waiting.assignee == coordinator and arriving.assignee is None
    assert assignment.waiting_cases() == [arriving]
