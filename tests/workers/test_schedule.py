"""The periodic table (`workers.schedule.PERIODIC`) is what the worker runs: once at
start (also with --burst), then every tick in a thread; each chore at most once per
its interval, a failing chore not stopping the others."""
from __future__ import annotations

import threading
import time

from service.cases import idempotency, patient_mail, referral_clock
from tests.fixtures.services import free_port
from workers import cli, outbox, retention, schedule, uploads
from workers.schedule import Periodic, Schedule


def test_the_table_holds_the_sweep_and_the_chores():
    assert [entry.run for entry in schedule.PERIODIC] == [
        outbox.sweep, uploads.cleanup, retention.apply, idempotency.delete_expired, referral_clock.run,
        patient_mail.remind_questions, patient_mail.remind_departures,
    ]
    assert schedule.TICK_SECONDS == min(entry.every_seconds for entry in schedule.PERIODIC)


def test_each_chore_runs_at_most_once_per_interval():
    now = [0.0]
    ran: list[str] = []
    table = (Periodic("often", 10, lambda: ran.append("often")), Periodic("rarely", 60, lambda: ran.append("rarely")))
    due = Schedule(table, clock=lambda: now[0])
    assert due.run_due() == ["often", "rarely"]
    now[0] = 5
    assert due.run_due() == []
    now[0] = 11
    assert due.run_due() == ["often"]
    now[0] = 61
    assert due.run_due() == ["often", "rarely"]
    assert ran == ["often", "rarely", "often", "often", "rarely"]


def test_a_failing_chore_does_not_stop_the_others(app_ctx):
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("store down")

    due = Schedule((Periodic("broken", 1, broken), Periodic("fine", 1, lambda: ran.append("fine"))))
    assert due.run_due() == ["broken", "fine"]
    assert ran == ["fine"]


def test_the_burst_worker_runs_the_table(app, redis_queue, monkeypatch):
    ran: list[str] = []
    monkeypatch.setattr(schedule, "PERIODIC", (Periodic("probe", 60, lambda: ran.append("probe")),))
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert ran == ["probe"]


def test_the_worker_loop_runs_the_table_every_tick(app):
    ran = threading.Semaphore(0)
    stop = threading.Event()
    table = Schedule((Periodic("probe", 0, ran.release),))
    loop = threading.Thread(target=cli.run_periodic_forever, args=(app, table, stop, 0.01), daemon=True)
    loop.start()
    try:
        deadline = time.monotonic() + 5
        for _ in range(3):
            assert ran.acquire(timeout=max(deadline - time.monotonic(), 0)), "the loop stopped running the table"
    finally:
        stop.set()
        loop.join(timeout=5)
    assert not loop.is_alive()


def test_the_chores_run_while_redis_is_down(app, app_ctx, monkeypatch):
    """Only the sweep needs Redis; upload cleanup and retention need the database."""
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setitem(app.extensions, "redis", {})
    ran: list[str] = []
    sweep = next(entry for entry in schedule.PERIODIC if entry.run is outbox.sweep)
    due = Schedule((sweep, Periodic("chore", 60, lambda: ran.append("chore"))))
    assert due.run_due() == ["outbox sweep", "chore"]
    assert ran == ["chore"]
