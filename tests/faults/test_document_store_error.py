"""The disk fills up while the paperwork is written: every document job fails with
ENOSPC on the local store, is retried (RQ, JOB_RETRY_INTERVALS), and the staff case page
shows the problem while it lasts, not only once the retries are used up. With room on
the disk again the retries store each document exactly once."""
from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select

from service.cases import paperwork_store
from service.extensions import db
from service.models import Case, CaseEvent, Document, OutboxMessage, Referral
from tests.fixtures.cases import post_request
from tests.fixtures.staff import sign_in
from storage import from_url
from workers import outbox, queues

PAPERWORK = ("render_confirmation", "render_dossier")
RETRY_SECONDS = 1


class DiskFull:
    """`os.fsync` as on a full disk for files written under a documents folder of the store."""

    def __init__(self, real) -> None:
        self.real = real
        self.full = True
        self.refused: list[str] = []

    def __call__(self, fd: int) -> None:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if self.full and "/documents/" in path:
            self.refused.append(path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.real(fd)


@pytest.fixture
def retrying_app(app, db_session, private_redis, tmp_path) -> Iterator:
    """One clinic per case (fewer PDFs to render), retries a second apart, a Redis of its
    own, and an empty local store (case ids repeat across rolled-back tests)."""
    saved = {key: app.config[key] for key in ("REDIS_URL", "JOB_RETRY_INTERVALS", "ROUTING_TOP_N")}
    saved_storage = app.extensions["storage"]
    app.config.update(REDIS_URL=private_redis.url, JOB_RETRY_INTERVALS=[RETRY_SECONDS] * 3, ROUTING_TOP_N=1)
    app.extensions["storage"] = from_url(f"file://{tmp_path / 'store'}", secret_key=app.config["SECRET_KEY"])
    app.extensions.pop("redis", None)
    try:
        yield app
    finally:
        app.config.update(saved)
        app.extensions["storage"] = saved_storage
        app.extensions.pop("redis", None)


def _work(app, *, scheduler: bool = False) -> None:
    with app.app_context():
        SimpleWorker(list(queues.ALL), connection=queues.redis_connection()).work(
            burst=True, with_scheduler=scheduler
        )
    db.session.expire_all()


def _paperwork(case: Case) -> list[OutboxMessage]:
    return list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.case_id == case.id, OutboxMessage.job.in_(PAPERWORK))
        .order_by(OutboxMessage.id)
    ))


def _kinds(case: Case, kind: str) -> list[CaseEvent]:
    return list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == kind)))


def test_a_full_disk_while_writing_paperwork_is_retried_shown_to_staff_and_stores_one_document(
    retrying_app, client, coordinator, monkeypatch, tmp_path
):
    app = retrying_app
    disk = DiskFull(os.fsync)
    monkeypatch.setattr(os, "fsync", disk)
    case, status_page = post_request(client, language="en")
    _work(app)  # routing works; every document attempt hits the full disk
    time.sleep(RETRY_SECONDS + 0.5)
    _work(app, scheduler=True)  # the first retries: the disk is still full

    rows = _paperwork(case)
    referrals = db.session.scalar(select(func.count(Referral.id)).where(Referral.case_id == case.id))
    assert len(rows) == 1 + referrals == 2
    assert len(disk.refused) == 2 * len(rows) and all("/documents/" in path for path in disk.refused)
    assert all(m.status == outbox.ENQUEUED and "No space left on device" in m.last_error for m in rows)
    assert db.session.scalar(select(func.count(Document.id)).where(Document.case_id == case.id)) == 0
    assert _kinds(case, "job_failed") == []
    assert sorted(e.details["outbox_id"] for e in _kinds(case, "job_retrying")) == [m.id for m in rows]

    sign_in(client, coordinator)
    page = client.get(f"/staff/cases/{case.reference}").text
    assert "Background job render_confirmation failed and will be tried again" in page
    assert "Background job render_dossier failed and will be tried again" in page
    assert "No space left on device" in page
    patient_page = client.get(status_page).text
    assert "Background job" not in patient_page and "No space left" not in patient_page

    disk.full = False
    time.sleep(RETRY_SECONDS + 0.5)  # the retries are due
    _work(app, scheduler=True)

    rows = _paperwork(case)
    assert [m.status for m in rows] == [outbox.DONE] * len(rows)
    slots = db.session.scalars(select(Document.slot).where(Document.case_id == case.id)).all()
    assert sorted(slots) == sorted(
        [paperwork_store.CONFIRMATION] + [paperwork_store.dossier_slot(r) for r in db.session.scalars(
            select(Referral.id).where(Referral.case_id == case.id))]
    )
    root = tmp_path / "store"
    written = sorted(p.name for p in (root / "cases" / str(case.id) / "documents").iterdir())
    assert written == sorted(paperwork_store.document_key(case.id, s).rsplit("/", 1)[1] for s in slots)  # no temp files
    assert _kinds(case, "job_failed") == []
    assert len(_kinds(case, "job_retrying")) == len(rows)  # once per job, however many attempts
