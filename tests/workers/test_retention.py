"""Retention from the worker: the periodic table queues closed cases past RETENTION_DAYS
for erasure at most once an hour, and `flask cases retention [--dry-run]` does it on demand;
the erasure job then deletes their files."""
from __future__ import annotations

from sqlalchemy import select

from service.extensions import db
from service.models import CaseEvent
from tests.fixtures.cases import rows, run_worker
from tests.service.cases.test_erasure import DAYS, closed_case
from workers import retention
from workers.schedule import PERIODIC, Schedule


def test_the_periodic_table_runs_retention_at_most_once_an_hour(app_ctx, client):
    ticks = iter([1000.0, 1000.0 + 1800, 1000.0 + 3601])
    schedule = Schedule(tuple(e for e in PERIODIC if e.run is retention.apply), clock=lambda: next(ticks))
    first = closed_case(client, days_ago=DAYS + 1)
    assert schedule.run_due() == ["retention"]
    assert len(rows(first, "erase_case")) == 1
    second = closed_case(client, days_ago=DAYS + 1)
    assert schedule.run_due() == []  # half an hour later: skipped
    assert rows(second, "erase_case") == []
    assert schedule.run_due() == ["retention"]
    assert len(rows(second, "erase_case")) == 1 and len(rows(first, "erase_case")) == 1


def test_retention_days_zero_leaves_closed_cases_alone(app_ctx, client, monkeypatch):
    monkeypatch.setitem(app_ctx.config, "RETENTION_DAYS", 0)
    case = closed_case(client, days_ago=DAYS * 10)
    assert retention.apply() == 0
    db.session.refresh(case)
    assert case.erasure_requested_at is None and rows(case, "erase_case") == []
    result = app_ctx.test_cli_runner().invoke(args=["cases", "retention"])
    assert result.exit_code == 0 and "Retention is off" in result.output
    assert rows(case, "erase_case") == []



def test_cli_dry_run_then_real_run_erases_the_old_case_only(app, client, storage, redis_queue):
    old = closed_case(client, days_ago=DAYS + 1)
    recent = closed_case(client, days_ago=DAYS - 1)
    keys = [a.storage_key for a in old.attachments]
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["cases", "retention", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would erase {old.reference}" in dry.output and recent.reference not in dry.output
    assert "nothing changed" in dry.output
    db.session.refresh(old)
    assert old.erasure_requested_at is None and rows(old, "erase_case") == []

    real = runner.invoke(args=["cases", "retention"])
    assert real.exit_code == 0, real.output
    assert f"erasure requested for {old.reference}" in real.output and "1 case(s)" in real.output
    run_worker(app)
    again = runner.invoke(args=["cases", "retention"])  # twice: erased once
    assert "0 case(s)" in again.output

    db.session.refresh(old)
    db.session.refresh(recent)
    assert old.erased_at is not None and old.full_name == "erased"
    for key in keys:
        assert not storage.exists(key)
    assert len(db.session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == old.id, CaseEvent.kind == "data_erased")).all()) == 1
    assert recent.erased_at is None and recent.full_name != "erased" and recent.attachments
