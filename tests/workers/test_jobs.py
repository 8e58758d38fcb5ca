"""The whole back-office chain on the real Redis, an in-process worker and a real
SMTP server: a submitted case is routed, each referral gets its dossier, the patient
a confirmation, everyone an email; every job run twice leaves one of everything."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.cases import paperwork_store
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Case, Document, Notification, OutboxMessage, Referral
from service.notifications import reply_address
from storage import StorageUnavailable
from tests.fixtures import files
from tests.fixtures.cases import post_request, rows, run_worker
from tests.fixtures.forms import upload
from tests.fixtures.smtp import text_of
from tests.service.paperwork.pdfs import flat, link_uris, page_texts
from workers import jobs, outbox


@pytest.fixture
def mail(app, smtp_server, smtp_url):
    app.config["MAIL_URL"] = smtp_url
    yield smtp_server
    app.config["MAIL_URL"] = None


def counts(case: Case) -> tuple[int, int, int]:
    def count(model) -> int:
        return db.session.scalar(select(func.count(model.id)).where(model.case_id == case.id))

    return count(Referral), count(Document), count(Notification)


def read(storage, key: str) -> bytes:
    with storage.open(key) as stream:
        return stream.read()


def submit_with_files(client):
    return post_request(client, [upload(files.pdf("Knee MRI report"), "МРТ колена.pdf"), upload(files.png(), "stump.png")])


def test_a_submitted_case_is_routed_papered_and_announced(app, client, redis_queue, mail, storage):
    case, status_path = submit_with_files(client)
    run_worker(app)
    db.session.refresh(case)

    assert case.status == CaseStatus.ROUTED
    referrals = list(db.session.scalars(select(Referral).where(Referral.case_id == case.id)))
    assert 1 <= len(referrals) <= app.config["ROUTING_TOP_N"]
    docs = {d.slot: d for d in db.session.scalars(select(Document).where(Document.case_id == case.id))}
    assert set(docs) == {paperwork_store.CONFIRMATION} | {paperwork_store.dossier_slot(r.id) for r in referrals}
    for referral in referrals:
        dossier = docs[paperwork_store.dossier_slot(referral.id)]
        assert dossier.storage_key.startswith(f"cases/{case.id}/documents/")
        texts = page_texts(read(storage, dossier.storage_key))
        assert len(texts) == dossier.pages >= 2
        assert all(case.reference in t for t in texts)
        assert referral.clinic.name in flat(texts[0])
        assert "Amina" not in "".join(texts) and "amina@example.org" not in "".join(texts)
    confirmation = page_texts(read(storage, docs[paperwork_store.CONFIRMATION].storage_key))
    assert "МРТ колена.pdf" in flat("".join(confirmation))

    [patient_mail] = mail.to("amina@example.org")
    status_url = app.config["BASE_URL"] + status_path
    assert status_url in patient_mail
    assert client.get(status_path).status_code == 200
    for referral in referrals:
        [clinic_mail] = mail.to(referral.clinic.email)
        assert f"/clinic/referrals/{referral.id}" in clinic_mail
    for received in map(text_of, mail.messages()):
        for health_data in ("osseointegrated", "Osseointegrated", "amputation", "diabetes", "МРТ", "stump"):
            assert health_data not in received
    assert all(m.status == outbox.DONE for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.case_id == case.id)
    ))


def test_the_status_token_does_not_outlive_its_email(app, client, redis_queue, mail):
    case, status_path = post_request(client)
    token = status_path.rsplit("/", 1)[-1]
    [message] = rows(case, "notify_patient")
    assert token not in str(message.payload)
    run_worker(app)
    db.session.refresh(message)
    assert message.status == outbox.DONE
    assert message.payload == {}


def test_the_confirmation_carries_the_cases_reply_address(app, client, redis_queue, mail):
    """A patient who answers the very first e-mail reaches the case (issue 16), not a mailbox."""
    case, _ = submit_with_files(client)
    run_worker(app)
    [confirmation] = [m for e, m in zip(mail.envelopes, mail.messages()) if "amina@example.org" in e.rcpt_tos]
    assert reply_address.case_id_from_address(confirmation["Reply-To"]) == case.id
    assert reply_address.case_id_from_message_ids([confirmation["Message-ID"]]) == case.id
    assert confirmation["Auto-Submitted"] == "auto-generated"


def test_every_job_run_twice_leaves_one_of_everything(app, client, redis_queue, mail):
    case, _ = submit_with_files(client)
    run_worker(app)
    before = counts(case)
    assert before[0] >= 1 and before[1] == before[0] + 1 and before[2] == before[0] + 1
    sent = len(mail.envelopes)
    keys = set(db.session.scalars(select(Document.storage_key).where(Document.case_id == case.id)))

    for message in db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)).all():
        payload = dict(message.payload)
        if message.job == "notify_patient":
            from service.cases.secrets_box import seal

            payload["sealed_token"] = seal("not-the-real-token")
        with app.app_context():
            jobs.JOBS[message.job].func(case_id=message.case_id, **payload)
            db.session.commit()
    db.session.expire_all()

    assert counts(case) == before
    assert len(mail.envelopes) == sent
    assert set(db.session.scalars(select(Document.storage_key).where(Document.case_id == case.id))) == keys
    assert db.session.get(Case, case.id).status == CaseStatus.ROUTED


def test_added_files_regenerate_the_paperwork_in_place(app, client, redis_queue, mail, storage):
    case, status_path = submit_with_files(client)
    run_worker(app)
    before = {d.slot: (d.id, d.sha256) for d in db.session.scalars(select(Document).where(Document.case_id == case.id))}
    emails = len(mail.envelopes)

    response = client.post(
        status_path + "/files",
        data={"files": [upload(files.pdf("Echocardiogram"), "echo-2026.pdf")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    run_worker(app)
    db.session.expire_all()

    after = {d.slot: d for d in db.session.scalars(select(Document).where(Document.case_id == case.id))}
    assert set(after) == set(before)
    for slot, document in after.items():
        assert document.id == before[slot][0]
        assert document.sha256 != before[slot][1]
        assert "echo-2026.pdf" in flat("".join(page_texts(read(storage, document.storage_key))))
    assert len(mail.envelopes) == emails


def test_the_dossier_sends_the_clinic_to_its_portal_page_and_says_why_in_plain_words(app, client, redis_queue, storage):
    case, _status_path = submit_with_files(client)
    run_worker(app)
    for referral in db.session.scalars(select(Referral).where(Referral.case_id == case.id)):
        document = db.session.scalar(select(Document).where(Document.slot == paperwork_store.dossier_slot(referral.id)))
        data = read(storage, document.storage_key)
        text = flat(" ".join(page_texts(data)))
        assert app.config["BASE_URL"] + f"/clinic/referrals/{referral.id}" in link_uris(data)
        assert app.config["CONTACT_EMAIL"] not in text
        assert f"You offer {case.treatment.name}" in text
        assert not any(internal in text for internal in ("open cases", "capped", "referrals accepted", "answers in ~"))


def test_a_storage_outage_is_retried_until_the_dossier_is_stored(app, client, redis_queue, mail, storage, monkeypatch):
    real_put = type(storage).put
    dossier_puts: list[tuple[str, str]] = []

    def flaky_put(self, key, stream, **kwargs):
        if "/documents/dossier-" in key:
            if not dossier_puts:
                dossier_puts.append((key, "refused"))
                raise StorageUnavailable("store is restarting")
            dossier_puts.append((key, "stored"))
        return real_put(self, key, stream, **kwargs)

    monkeypatch.setattr(type(storage), "put", flaky_put)
    case, _ = post_request(client)
    run_worker(app)

    first_key = dossier_puts[0][0]
    assert [outcome for key, outcome in dossier_puts if key == first_key] == ["refused", "stored"]
    referrals = db.session.scalar(select(func.count(Referral.id)).where(Referral.case_id == case.id))
    dossiers = db.session.scalar(
        select(func.count(Document.id)).where(Document.case_id == case.id, Document.kind == paperwork_store.DOSSIER)
    )
    assert dossiers == referrals >= 1
    assert all(m.status == outbox.DONE for m in rows(case, "render_dossier"))
    assert "job_failed" not in [e.kind for e in db.session.get(Case, case.id).events]


def test_smtp_down_ends_in_a_visible_failure_that_a_retry_delivers_once(app, client, redis_queue, mail):
    from tests.fixtures.services import free_port

    mail_url = app.config["MAIL_URL"]
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"
    case, _ = post_request(client)
    run_worker(app)
    failed = [m for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id))
              if m.status == outbox.FAILED]
    referrals = db.session.scalar(select(func.count(Referral.id)).where(Referral.case_id == case.id))
    assert sorted(m.job for m in failed) == ["notify_clinic"] * referrals + ["notify_patient"]
    assert sorted(e.details["job"] for e in case.events if e.kind == "job_failed") == sorted(m.job for m in failed)
    assert mail.envelopes == []

    app.config["MAIL_URL"] = mail_url
    listing = app.test_cli_runner().invoke(args=["jobs", "failed"]).output
    assert all(f"{m.id}\t{m.job}\t{case.reference}" in listing for m in failed)
    result = app.test_cli_runner().invoke(args=["jobs", "retry", *[str(m.id) for m in failed]])
    assert result.exit_code == 0, result.output
    run_worker(app)
    assert all(db.session.get(OutboxMessage, m.id).status == outbox.DONE for m in failed)
    assert len(mail.to("amina@example.org")) == 1
    assert len(mail.envelopes) == 1 + referrals
    assert "No failed jobs." in app.test_cli_runner().invoke(args=["jobs", "failed"]).output


def test_a_case_no_clinic_can_take_is_not_papered_for_clinics(app, client, redis_queue, mail):
    case, _ = post_request(client, treatment="knee-replacement", **{"preferred_clinic": ""})
    from service.models import Clinic

    for clinic in db.session.scalars(select(Clinic)):
        clinic.accepting = False
    db.session.commit()
    run_worker(app)
    db.session.refresh(case)
    assert case.status == CaseStatus.NEEDS_ATTENTION
    kinds = set(db.session.scalars(select(Document.kind).where(Document.case_id == case.id)))
    assert kinds == {paperwork_store.CONFIRMATION}
    assert [e.rcpt_tos for e in mail.envelopes] == [["amina@example.org"]]

