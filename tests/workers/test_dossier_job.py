"""The dossier job on real storage and a real database: what it reads and what it asks
the database, counted (the horse that runs it pays for every round trip)."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from service.cases import paperwork_store
from service.extensions import db
from service.models import Attachment, DerivedFile, Document, Referral
from service.models.derived import Purpose
from tests.fixtures import files, photos
from tests.fixtures.cases import run_worker, submit
from tests.fixtures.forms import upload
from tests.fixtures.statements import recorded_statements, touching
from workers import cli, jobs


def a_case_with_previews(client, app):
    case = submit(client, files=[upload(photos.gps_jpeg((640, 480)), "IMG_0001.jpg"),
                                 upload(files.png(), "scan.png"), upload(files.pdf("Knee MRI report"), "mri.pdf")])
    run_worker(app)
    referral = db.session.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.id)).first()
    assert referral is not None
    return case, referral


def recording_reads(monkeypatch, storage) -> list[tuple[str, str]]:
    """The real store's reads, as (how, key)."""
    seen: list[tuple[str, str]] = []
    store_type = type(storage)
    real_read, real_open = store_type.read, store_type.open

    def read(self, key):
        seen.append(("read", key))
        return real_read(self, key)

    def open_(self, key):
        seen.append(("open", key))
        return real_open(self, key)

    monkeypatch.setattr(store_type, "read", read)
    monkeypatch.setattr(store_type, "open", open_)
    return seen


def test_the_dossier_job_reads_each_preview_and_exhibit_once_and_no_original(client, app, storage, monkeypatch):
    case, referral = a_case_with_previews(client, app)
    attachments = list(db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)))
    derived = list(db.session.scalars(select(DerivedFile).where(
        DerivedFile.attachment_id.in_([a.id for a in attachments]))))
    images = {a.id for a in attachments if a.content_type.startswith("image/")}
    previews = {d.storage_key for d in derived
                if d.purpose == Purpose.PREVIEW and d.storage_key and d.attachment_id in images}
    pdf_copy = {d.storage_key for d in derived if d.purpose == Purpose.CLINIC_COPY and d.content_type == "application/pdf"}
    assert len(previews) == 2 and len(pdf_copy) == 1
    seen = recording_reads(monkeypatch, storage)
    with app.app_context():
        jobs.render_dossier(case.id, referral.id)
    reads = [key for how, key in seen if how == "read"]
    opens = [key for how, key in seen if how == "open"]  # the file store's `read` opens the file
    assert sorted(reads) == sorted(previews | pdf_copy)
    assert len(opens) == len(set(opens)) and set(opens) <= set(reads)
    assert not set(reads) & {a.storage_key for a in attachments}


def test_the_dossier_job_sends_seven_reads_then_only_its_document_row(client, app, storage):
    """Referral, case, the forwarded-files events, attachments, derived files, clinic,
    treatment; then the document row's select (and its update when the PDF changed). A
    lazy load per file, or one left for after the document row, would show here."""
    case, referral = a_case_with_previews(client, app)
    db.session.expunge_all()
    with app.app_context(), recorded_statements(db.engine) as sent:
        jobs.render_dossier(case.id, referral.id)
    statements = [s for s in sent if not s.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
    assert len(touching(statements, "documents")) == len(statements) - 7 in (1, 2), "\n".join(statements)
    assert touching(statements[7:], "documents") == statements[7:]
    assert db.session.scalar(select(Document.pages).where(Document.referral_id == referral.id)) >= 2


def test_the_warm_up_compiles_the_dossiers_reads_so_a_horse_compiles_none(client, app, storage, monkeypatch):
    """What the worker runs before forking: afterwards gathering a dossier's content (as
    each horse does) finds every statement compiled; and the warm-up itself only reads."""
    _case, referral = a_case_with_previews(client, app)
    referral_id = referral.id
    monkeypatch.setattr(type(storage), "put", lambda *_a, **_k: pytest.fail("the warm-up stored something"))
    config = app.config
    cache = db.engine._compiled_cache
    db.session.commit()  # the case is the test transaction's, not the savepoint the warm-up rolls back
    db.session.expunge_all()
    cache.clear()
    with recorded_statements(db.engine) as sent:
        assert paperwork_store.warm_up_dossier(storage, base_url=config["BASE_URL"], link_ttl=60)
    assert sent and all(s.lstrip().upper().startswith(("SELECT", "BEGIN", "SAVEPOINT", "ROLLBACK", "RELEASE"))
                        for s in sent)
    compiled = len(cache)
    assert compiled >= 7
    db.session.expunge_all()
    referral = db.session.get(Referral, referral_id)
    paperwork_store._dossier_content(referral, storage, base_url=config["BASE_URL"], link_ttl=60)
    paperwork_store._document(referral.case_id, paperwork_store.dossier_slot(referral_id))
    assert len(cache) == compiled  # nothing new: a horse inherits every one


def test_the_warm_up_without_any_referral_is_a_no_op(app_ctx, storage):
    assert db.session.scalar(select(Referral.id).limit(1)) is None
    assert paperwork_store.warm_up_dossier(storage, base_url="http://medtour.test", link_ttl=60) is False


def test_a_database_failing_during_the_warm_up_does_not_stop_the_worker(app_ctx, monkeypatch, caplog):
    def failing(*_args, **_kwargs):
        raise OperationalError("SELECT referrals.id", {}, Exception("connection refused"))

    monkeypatch.setattr(paperwork_store, "warm_up_dossier", failing)
    cli.warm_up()
    assert "dossier warm-up skipped" in caplog.text
