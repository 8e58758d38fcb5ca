"""The durable hand-off: outbox rows written with the case, relayed to the real
Redis, executed once, surviving Redis being down, failures made visible and retryable."""
from __future__ import annotations

from datetime import timedelta

from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from service.cases.status import CaseStatus
from service.extensions import db
from service.models import CaseEvent, Referral
from tests.fixtures.forms import valid_request
from tests.fixtures.services import free_port
from tests.fixtures.cases import rows, run_worker, submit
from workers import jobs, outbox, queues


def test_the_case_and_its_outbox_row_commit_together_and_are_relayed(client, redis_queue):
    case = submit(client)
    [message] = rows(case)
    assert message.status == outbox.ENQUEUED
    job = Job.fetch(outbox.job_id(message.id), connection=redis_queue)
    assert job.origin == queues.ROUTING


def test_submission_routes_the_case_with_reasons(app, client, redis_queue):
    case = submit(client)
    run_worker(app)
    db.session.refresh(case)
    assert case.status == CaseStatus.ROUTED
    referrals = list(db.session.scalars(select(Referral).where(Referral.case_id == case.id)))
    assert 1 <= len(referrals) <= app.config["ROUTING_TOP_N"]
    assert all(r.reasons and all(c["reason"] for c in r.reasons) for r in referrals)
    assert rows(case)[0].status == outbox.DONE


def test_with_redis_down_submissions_succeed_and_are_processed_once_it_returns(
    app, client, redis_queue, redis_url
):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    app.extensions.pop("redis", None)
    cases = [submit(client) for _ in range(3)]
    assert [rows(c)[0].status for c in cases] == [outbox.PENDING] * 3

    app.config["REDIS_URL"] = redis_url
    app.extensions.pop("redis", None)
    with app.app_context():
        report = outbox.sweep()
    # route_case (which also assigns), render_confirmation, notify_patient per case
    assert report.relayed == 3 * 3
    run_worker(app)
    for case in cases:
        db.session.refresh(case)
        assert case.status in (CaseStatus.ROUTED, CaseStatus.NEEDS_ATTENTION)
        assert rows(case)[0].status == outbox.DONE


def test_a_row_enqueued_twice_runs_once(app, client, redis_queue):
    case = submit(client)
    [message] = rows(case)
    with app.app_context():
        outbox._enqueue(queues.redis_connection(), message)
    assert redis_queue.llen(f"rq:queue:{queues.ROUTING}") >= 1
    run_worker(app)
    referrals = db.session.scalar(select(func.count(Referral.id)).where(Referral.case_id == case.id))
    assert 1 <= referrals <= app.config["ROUTING_TOP_N"]
    with app.app_context():
        assert outbox.execute(message.id) == "already done"
    assert db.session.scalar(select(func.count(Referral.id)).where(Referral.case_id == case.id)) == referrals
    statuses = db.session.scalars(
        select(CaseEvent.details).where(CaseEvent.case_id == case.id, CaseEvent.kind == "status_changed")
    ).all()
    assert len(statuses) == 1


def test_a_job_that_keeps_failing_is_visible_on_the_timeline_and_can_be_retried(
    app, client, redis_queue, monkeypatch
):
    calls: list[int] = []

    def broken(case_id: int, assign: bool = False) -> None:
        calls.append(case_id)
        raise OSError("clinic catalogue store unreachable")

    monkeypatch.setitem(jobs.JOBS, "route_case", jobs.JobSpec(broken, queues.ROUTING))
    case = submit(client)
    run_worker(app)
    [message] = rows(case)
    assert len(calls) == 1 + len(app.config["JOB_RETRY_INTERVALS"])
    assert message.status == outbox.FAILED
    assert "clinic catalogue store unreachable" in message.last_error
    failed = FailedJobRegistry(queues.ROUTING, connection=redis_queue)
    assert outbox.job_id(message.id) in failed.get_job_ids()
    [event] = [e for e in case.events if e.kind == "job_failed"]
    assert event.details["job"] == "route_case"

    monkeypatch.undo()
    with app.app_context():
        outbox.retry(message.id)
    run_worker(app)
    db.session.refresh(message)
    db.session.refresh(case)
    assert message.status == outbox.DONE
    assert case.status in (CaseStatus.ROUTED, CaseStatus.NEEDS_ATTENTION)
    assert [e.kind for e in case.events].count("job_retried") == 1


def test_internal_failures_stay_off_the_patient_timeline(app, client, redis_queue, monkeypatch):
    def broken(case_id: int, assign: bool = False) -> None:
        raise OSError("boom")

    monkeypatch.setitem(jobs.JOBS, "route_case", jobs.JobSpec(broken, queues.ROUTING))
    response = client.post("/requests/new", data=valid_request(language="en"), content_type="multipart/form-data")
    run_worker(app)
    page = client.get(response.location)
    assert "Request received" in page.text
    assert "boom" not in page.text and "Background job" not in page.text


def test_no_clinic_qualifies_means_needs_attention_with_the_reason(app, client, redis_queue):
    from service.models import Clinic

    for clinic in db.session.scalars(select(Clinic)):
        clinic.accepting = False
    db.session.commit()
    case = submit(client)
    run_worker(app)
    db.session.refresh(case)
    assert case.status == CaseStatus.NEEDS_ATTENTION
    [change] = [e for e in case.events if e.kind == "status_changed"]
    assert change.details["reason"]
    assert db.session.scalar(select(func.count(Referral.id)).where(Referral.case_id == case.id)) == 0


def test_relaying_a_commit_claims_its_rows_in_one_statement_and_reads_none_back(app, db_session, redis_queue):
    """The relay of a case's jobs: one UPDATE … RETURNING, not a SELECT of the ids, the
    claim, and a SELECT of the rows it had just written."""
    from service import outbox as domain_outbox
    from service.outbox import Job as OutboxJob, record
    from tests.fixtures.statements import recorded_statements, touching

    with app.app_context():
        recorded = [record(OutboxJob.ERASE_CASE, case_id=None, note=n) for n in range(4)]
        with recorded_statements(db.engine) as sent:
            domain_outbox.commit()
        relayed = [s for s in touching(sent, "outbox") if not s.lstrip().upper().startswith("INSERT")]
        assert len(relayed) == 1, relayed
        assert relayed[0].lstrip().upper().startswith("UPDATE") and "RETURNING" in relayed[0].upper()
        ids = sorted(message.id for message in recorded)
        assert [m.status for m in db.session.scalars(
            select(outbox.OutboxMessage).where(outbox.OutboxMessage.id.in_(ids)))] == [outbox.ENQUEUED] * 4
    assert sorted(Job.fetch(outbox.job_id(i), connection=redis_queue).origin for i in ids) == [queues.DEFAULT] * 4


def test_the_sweep_relays_the_oldest_pending_rows_up_to_its_limit(app, db_session, redis_queue):
    from service.outbox import Job as OutboxJob, record

    with app.app_context():
        recorded = [record(OutboxJob.ERASE_CASE, case_id=None, note=n) for n in range(3)]
        db.session.commit()  # not the commit point: nothing relayed yet
        ids = sorted(message.id for message in recorded)
        assert outbox.relay(limit=2) == 2
        statuses = {m.id: m.status for m in db.session.scalars(
            select(outbox.OutboxMessage).where(outbox.OutboxMessage.id.in_(ids)))}
        assert statuses == {ids[0]: outbox.ENQUEUED, ids[1]: outbox.ENQUEUED, ids[2]: outbox.PENDING}
        assert outbox.relay(ids=[ids[2]]) == 1
        assert outbox.relay(ids=[ids[2]]) == 0


def test_a_commit_with_work_and_its_relay_take_one_transaction(app, db_session, redis_queue):
    """The commit point claims its rows before its COMMIT: the relay that follows only
    talks to Redis (no check-out, ping and COMMIT of a transaction of its own)."""
    from sqlalchemy import event

    from service import outbox as domain_outbox
    from service.outbox import Job as OutboxJob, record

    with app.app_context():
        session = db.session()
        commits: list[int] = []

        def count(_session) -> None:
            commits.append(1)

        event.listen(session, "after_commit", count)
        try:
            recorded = [record(OutboxJob.ERASE_CASE, case_id=None, note=n) for n in range(2)]
            domain_outbox.commit()
        finally:
            event.remove(session, "after_commit", count)
        assert commits == [1]
        ids = [message.id for message in recorded]
    assert [Job.fetch(outbox.job_id(i), connection=redis_queue).origin for i in ids] == [queues.DEFAULT] * 2


def test_rows_claimed_by_a_process_that_died_before_its_relay_are_sent_by_the_sweep(app, db_session, redis_queue):
    """The commit point claims before its COMMIT and relays after it: a process killed in
    between leaves rows enqueued without a job. The sweep sends them once they have been
    so for LOST_AFTER, not before (their relay may still be on its way)."""
    from datetime import UTC, datetime

    from service import outbox as domain_outbox
    from service.outbox import Job as OutboxJob, record

    with app.app_context():
        app.extensions[domain_outbox.RELAY_HOOK] = lambda rows: None  # the process dies here
        try:
            old, young = record(OutboxJob.ERASE_CASE, case_id=None), record(OutboxJob.ERASE_CASE, case_id=None)
            domain_outbox.commit()
        finally:
            outbox.init_app(app)
        old.enqueued_at = datetime.now(UTC) - outbox.LOST_AFTER - timedelta(seconds=1)
        db.session.commit()
        assert outbox.sweep().recovered == 1
        assert Job.fetch(outbox.job_id(old.id), connection=redis_queue).origin == queues.DEFAULT
        assert Job.exists(outbox.job_id(young.id), connection=redis_queue) is False
        db.session.refresh(young)
        assert young.status == domain_outbox.ENQUEUED
