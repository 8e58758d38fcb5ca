"""Automatic assignment of new cases to coordinators, balanced by open load.

A new case goes to the active coordinator with the fewest open cases among those
under their `capacity` (ties: fewest cases ever assigned, then the lowest id). When
everyone is full the case is queued for lack of capacity (one "assignment_queued"
event) and `assign_waiting` hands out queued cases, oldest first, once capacity frees.

Only the system assigns here, and each automatic assignment writes one CaseEvent
(actor "system", kind "assigned"); staff assign through `workflow.perform("assign")`.
Only cases nobody assigned since they were queued wait here: a case a person
unassigned, or one that never went through automatic assignment, is left to people.
"""
from __future__ import annotations

import logging
from typing import Final

from flask import current_app
from sqlalchemy import ScalarSelect, func, or_, select
from sqlalchemy.orm import aliased

from service.cases import events
from service.cases.events import Actor, EventKind
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Case, CaseEvent, User
from service.models.roles import COORDINATOR

log = logging.getLogger(__name__)

QUEUED_REASON: Final = "No coordinator has free capacity; the case is assigned as soon as one has."


def _open_load() -> ScalarSelect[int]:
    return (
        select(func.count(Case.id))
        .where(Case.assignee_id == User.id, Case.status != CaseStatus.CLOSED.value)
        .correlate(User)
        .scalar_subquery()
    )


def _total_load() -> ScalarSelect[int]:
    return select(func.count(Case.id)).where(Case.assignee_id == User.id).correlate(User).scalar_subquery()


def _lock_coordinators() -> None:
    """Serialise automatic assignment (PostgreSQL row locks; SQLite serialises writers
    anyway), so two workers cannot both fill a coordinator's last free place. The loads
    are read after the lock, in a new statement that sees the other worker's commit."""
    db.session.execute(
        select(User.id).where(User.role == COORDINATOR, User.active.is_(True)).with_for_update()
    ).all()


def loads() -> list[tuple[User, int, int]]:
    """Every active coordinator with their open and total case counts."""
    stmt = (
        select(User, _open_load(), _total_load())
        .where(User.role == COORDINATOR, User.active.is_(True))
        .order_by(User.id)
    )
    return [(user, open_, total) for user, open_, total in db.session.execute(stmt)]


def pick_coordinator() -> User | None:
    """The coordinator a new case should go to, or None when all are at capacity."""
    candidates = [(open_, total, user.id, user) for user, open_, total in loads() if open_ < user.capacity]
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[:3])[3]


def _latest_event_id(case: Case, kind: EventKind) -> int | None:
    return db.session.scalar(
        select(func.max(CaseEvent.id)).where(CaseEvent.case_id == case.id, CaseEvent.kind == kind)
    )


def _is_queued(case: Case) -> bool:
    queued = _latest_event_id(case, EventKind.ASSIGNMENT_QUEUED)
    assigned = _latest_event_id(case, EventKind.ASSIGNED)
    return queued is not None and (assigned is None or queued > assigned)


def assign_new(case: Case) -> User | None:
    """Assign an unassigned open case to the least-loaded coordinator with room, or
    queue it. Idempotent: an assigned, closed or already-queued case is left as it is
    (apart from a queued case getting its coordinator). The caller commits."""
    if case.assignee_id is not None or case.status == CaseStatus.CLOSED:
        return None
    _lock_coordinators()
    return _assign_or_queue(case, pick_coordinator())


def assign_arriving(case: Case | None) -> User | None:
    """A new case's automatic assignment: the cases queued for lack of capacity first
    (oldest first), then this one, or it joins the queue. When nobody has room, the
    queue is not read at all (it is longest exactly then): one lock and one reading
    of the loads decide. The caller commits."""
    _lock_coordinators()
    user = pick_coordinator()
    if user is not None and assign_waiting():
        user = pick_coordinator()
    if case is None or case.assignee_id is not None or case.status == CaseStatus.CLOSED:
        return None
    return _assign_or_queue(case, user)


def _assign_or_queue(case: Case, user: User | None) -> User | None:
    """`case` to `user`, or queued when there is nobody (the coordinators locked)."""
    if user is None:
        if not _is_queued(case):
            events.record_event(case, Actor.SYSTEM, EventKind.ASSIGNMENT_QUEUED, reason=QUEUED_REASON)
            log.info("case %s queued: no coordinator has free capacity", case.reference)
        db.session.flush()
        return None
    case.assignee = user
    events.record_event(case, Actor.SYSTEM, EventKind.ASSIGNED, assignee=user.email, previous=None, automatic=True)
    db.session.flush()
    log.info("case %s assigned to %s", case.reference, user.email)
    return user


def waiting_cases(limit: int | None = None) -> list[Case]:
    """Cases queued for lack of capacity, oldest first: unassigned, open, and their
    latest assignment event is the queueing one."""
    queued, assigned = aliased(CaseEvent), aliased(CaseEvent)
    latest_queued = (
        select(func.max(queued.id)).where(queued.case_id == Case.id, queued.kind == EventKind.ASSIGNMENT_QUEUED).scalar_subquery()
    )
    latest_assigned = (
        select(func.max(assigned.id)).where(assigned.case_id == Case.id, assigned.kind == EventKind.ASSIGNED).scalar_subquery()
    )
    stmt = (
        select(Case)
        .where(
            Case.assignee_id.is_(None),
            Case.status != CaseStatus.CLOSED.value,
            latest_queued.is_not(None),
            or_(latest_assigned.is_(None), latest_queued > latest_assigned),
        )
        .order_by(Case.created_at, Case.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def assign_waiting() -> list[Case]:
    """Assign queued cases, oldest first, while some coordinator has room; returns the
    cases assigned. The caller commits. One queued case is loaded at a time: with no
    room the first stays queued and the rest are never loaded (every new case's
    `assign_case` runs this, so loading the whole queue made each cost grow with it)."""
    assigned: list[Case] = []
    while next_case := waiting_cases(limit=1):
        if assign_new(next_case[0]) is None:
            break
        assigned.append(next_case[0])
    return assigned


def capacity_freed() -> list[Case]:
    """Capacity may have freed (a case closed or reassigned, a coordinator added,
    enabled or given more capacity): hand out queued cases when automatic assignment
    is on. Call after the change is flushed, before the commit."""
    if not current_app.config["AUTO_ASSIGN"]:
        return []
    return assign_waiting()
