"""The one commit point (`service.outbox.commit`): the outbox rows written in a
transaction are handed to the relay once that transaction commits, never after a
rollback or a failed commit, and never twice."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service import outbox
from service.extensions import db
from service.models import OutboxMessage
from service.outbox import Job


@pytest.fixture
def relayed(app, app_ctx, monkeypatch) -> list[list[int]]:
    """Each call of the registered relay, with the ids of the rows it was given."""
    calls: list[list[int]] = []
    monkeypatch.setitem(app.extensions, outbox.RELAY_HOOK, lambda rows: calls.append([row.id for row in rows]))
    return calls


def test_a_row_is_relayed_after_its_commit_not_before(relayed):
    message = outbox.record(Job.ERASE_CASE, case_id=None)
    db.session.flush()
    assert relayed == []
    outbox.commit()
    assert relayed == [[message.id]]


def test_every_row_of_the_transaction_is_relayed_at_once(relayed):
    first = outbox.record(Job.RENDER_CONFIRMATION, case_id=None)
    db.session.flush()  # a rule flushed in between: the row is still caught
    second = outbox.record(Job.SEND_SIGNIN_LINK, case_id=None, sealed_email="x", next_url=None)
    outbox.commit()
    assert relayed == [[first.id, second.id]]


def test_nothing_is_relayed_twice(relayed):
    first = outbox.record(Job.ERASE_CASE, case_id=None)
    outbox.commit()
    outbox.commit()
    second = outbox.record(Job.ERASE_CASE, case_id=None)
    outbox.commit()
    assert relayed == [[first.id], [second.id]]


def test_a_rolled_back_row_is_not_relayed(relayed):
    outbox.record(Job.ERASE_CASE, case_id=None)
    db.session.flush()
    db.session.rollback()
    outbox.commit()
    assert relayed == []


def test_a_failed_commit_relays_nothing(relayed, monkeypatch):
    outbox.record(Job.ERASE_CASE, case_id=None)

    def broken_commit():
        raise RuntimeError("database went away at commit")

    with monkeypatch.context() as patch:
        patch.setattr(db.session, "commit", broken_commit)
        with pytest.raises(RuntimeError):
            outbox.commit()
    db.session.rollback()
    outbox.commit()
    assert relayed == []


def test_a_savepoint_release_is_not_the_commit(relayed):
    with db.session.begin_nested():
        message = outbox.record(Job.ERASE_CASE, case_id=None)
    assert relayed == []
    outbox.commit()
    assert relayed == [[message.id]]


def test_a_plain_commit_leaves_its_rows_to_the_sweep(relayed):
    """Rows committed without the commit point are not relayed by a later commit."""
    outbox.record(Job.ERASE_CASE, case_id=None)
    db.session.commit()
    outbox.commit()
    assert relayed == []


def test_without_a_relay_the_rows_wait_pending(app, app_ctx, monkeypatch):
    monkeypatch.delitem(app.extensions, outbox.RELAY_HOOK)
    message = outbox.record(Job.ERASE_CASE, case_id=None)
    outbox.commit()
    assert db.session.get(OutboxMessage, message.id).status == outbox.PENDING


def test_a_failing_relay_leaves_the_change_committed(app, app_ctx, monkeypatch):
    def broken_relay(rows):
        raise RuntimeError("relay broke")

    monkeypatch.setitem(app.extensions, outbox.RELAY_HOOK, broken_relay)
    message = outbox.record(Job.ERASE_CASE, case_id=None)
    outbox.commit()
    ids = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == outbox.PENDING))
    assert message.id in set(ids)


def test_the_composed_app_relays_through_the_workers(app):
    from workers.outbox import enqueue_claimed

    assert app.extensions[outbox.RELAY_HOOK] is enqueue_claimed


def test_an_unknown_job_is_refused(app_ctx):
    with pytest.raises(ValueError):
        outbox.record("render_everything", case_id=None)


def test_the_rows_are_claimed_in_the_transaction_that_wrote_them(app, app_ctx, relayed):
    """One COMMIT for the change and the claim of its rows: no transaction of its own
    after it, which cost a connection check-out, its ping and a COMMIT per request."""
    from sqlalchemy import event

    commits: list[int] = []
    session = db.session()

    def count(_session) -> None:
        commits.append(1)

    event.listen(session, "after_commit", count)
    try:
        message = outbox.record(Job.ERASE_CASE, case_id=None)
        outbox.commit()
    finally:
        event.remove(session, "after_commit", count)
    assert commits == [1]
    assert relayed == [[message.id]]
    assert db.session.get(OutboxMessage, message.id).status == outbox.ENQUEUED


def test_rows_whose_relay_failed_are_pending_again_for_the_sweep(app, app_ctx, monkeypatch):
    def broken_relay(rows):
        raise ConnectionError("redis went away")

    monkeypatch.setitem(app.extensions, outbox.RELAY_HOOK, broken_relay)
    messages = [outbox.record(Job.ERASE_CASE, case_id=None) for _ in range(3)]
    outbox.commit()
    statuses = db.session.scalars(
        select(OutboxMessage.status).where(OutboxMessage.id.in_([m.id for m in messages]))
    ).all()
    assert statuses == [outbox.PENDING] * 3
