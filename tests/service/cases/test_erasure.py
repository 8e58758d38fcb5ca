"""Retention: cases closed for longer than RETENTION_DAYS are queued for erasure (on the
system's behalf, reason `retention`) and the erasure job then deletes their files and
blanks them; recent, open and already-erased cases, and RETENTION_DAYS=0, are left alone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from service.cases import erasure, events
from service.cases.status import CaseStatus
from service.dashboard import metrics
from service.dashboard.period import Period
from service.extensions import db
from service.models import Attachment, Case, CaseEvent, OutboxMessage
from tests.fixtures import files
from tests.fixtures.cases import rows, submit
from tests.fixtures.forms import upload
from workers import jobs

NOW = datetime.now(timezone.utc)
DAYS = 730


def closed_case(client, *, days_ago: float, name: str = "knee.png") -> Case:
    """A submitted case closed `days_ago` (its closing event backdated)."""
    case = submit(client, files=[upload(files.png(), name)])
    event = events.change_status(case, CaseStatus.CLOSED, "staff:someone@medtour.example", reason="no_reply")
    event.created_at = NOW - timedelta(days=days_ago)
    case.closed_reason = "no_reply"
    db.session.commit()
    return case


def erasure_events(case: Case) -> list[CaseEvent]:
    return list(db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "erasure_requested")
    ))


def test_only_cases_closed_longer_than_the_period_are_due(client):
    old = closed_case(client, days_ago=DAYS + 1)
    recent = closed_case(client, days_ago=DAYS - 1)
    reopened = closed_case(client, days_ago=DAYS + 5)
    events.change_status(reopened, CaseStatus.NEEDS_ATTENTION, "staff:someone@medtour.example")
    db.session.commit()
    open_case = submit(client)

    due = erasure.due_for_retention(NOW, DAYS)
    assert old.id in due
    assert not {recent.id, reopened.id, open_case.id} & set(due)
    assert erasure.due_for_retention(NOW, 0) == []


def test_retention_queues_the_erasure_once_on_the_systems_behalf(client):
    case = closed_case(client, days_ago=DAYS + 1)
    token_hash = case.token_hash

    assert case in erasure.apply_retention(NOW, DAYS)
    db.session.commit()
    assert erasure.apply_retention(NOW, DAYS) == []  # twice: nothing more
    db.session.commit()

    db.session.refresh(case)
    assert case.erasure_requested_at is not None and case.token_hash != token_hash
    [event] = erasure_events(case)
    assert (event.actor, event.details["reason"]) == (events.Actor.SYSTEM, erasure.RETENTION)
    assert len(rows(case, "erase_case")) == 1


def test_a_dry_run_changes_nothing(client):
    case = closed_case(client, days_ago=DAYS + 1)
    before = db.session.scalar(select(func.count(OutboxMessage.id)))

    assert erasure.apply_retention(NOW, DAYS, dry_run=True) == [case]
    db.session.commit()

    db.session.refresh(case)
    assert case.erasure_requested_at is None and erasure_events(case) == []
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == before


@pytest.mark.parametrize("days", [0, DAYS])
def test_recent_open_and_switched_off_are_left_alone(client, days):
    recent = closed_case(client, days_ago=DAYS - 1)
    open_case = submit(client)
    old = closed_case(client, days_ago=DAYS + 1)

    queued = erasure.apply_retention(NOW, days)
    db.session.commit()

    assert recent not in queued and open_case not in queued
    assert (old in queued) is (days == DAYS)
    for case in (recent, open_case):
        assert case.erasure_requested_at is None and rows(case, "erase_case") == []


def test_the_job_then_erases_a_case_past_retention(client, storage):
    case = closed_case(client, days_ago=DAYS + 1, name="MRI knee.png")
    keys = [a.storage_key for a in case.attachments]
    assert keys
    erasure.apply_retention(NOW, DAYS)
    db.session.commit()

    jobs.erase_case(case.id)
    jobs.erase_case(case.id)  # the job run twice erases once
    db.session.commit()

    db.session.refresh(case)
    for key in keys:
        assert not storage.exists(key)
    assert db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all() == []
    assert case.erased_at is not None
    assert (case.full_name, case.description, case.phone, case.date_of_birth) == (erasure.ERASED, erasure.ERASED, None, None)
    assert db.session.scalar(select(func.count(CaseEvent.id)).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "data_erased")) == 1
    assert case.treatment is not None and case.status == CaseStatus.CLOSED
    assert case.id not in erasure.due_for_retention(NOW, DAYS)


def test_retention_keeps_the_anonymous_statistics(client):
    """The dashboard counts the same cases, treatments, countries and outcomes after the
    erasure as before it: only the person is gone."""
    case = closed_case(client, days_ago=DAYS + 1)
    period = Period(case.created_at.date(), case.created_at.date())
    before = metrics.collect(db.session, period)
    assert before.requests >= 1

    erasure.apply_retention(NOW, DAYS)
    db.session.commit()
    jobs.erase_case(case.id)
    db.session.commit()
    db.session.refresh(case)

    assert case.erased_at is not None
    assert metrics.collect(db.session, period) == before
