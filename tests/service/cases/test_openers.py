"""Single-use openers, the "lost links" e-mail and rotation, in the domain: an opener
opens once, never after it expires or is voided; the lost-links job e-mails each open
request of an address once, with an opener each, in the newest request's language and
without health data; rotation kills the old token and every unused opener."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from service.cases import erasure, link_recovery, openers
from service.cases.events import EventKind
from service.cases.lookup import case_for_token
from service.cases.secrets_box import open_secret
from service.cases.status import CaseStatus
from service.cases.tokens import hash_token, new_token
from service.extensions import db
from service.models import CaseEvent, Notification, Opener, OutboxMessage
from service.notifications import reply_address
from service.outbox import Job
from tests.fixtures.cases import make_case
from tests.fixtures.outbox_jobs import run_pending

DESCRIPTION = "Severe pain in the left hip after a fall."


def _opener_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def test_an_opener_is_stored_only_as_its_hash_and_opens_its_case_once(app, app_ctx):
    case = make_case()
    raw = openers.issue(case)
    row = db.session.scalars(select(Opener).where(Opener.case_id == case.id)).one()
    assert row.secret_hash == hash_token(raw) and raw not in row.secret_hash
    assert row.expires_at - row.created_at == timedelta(days=7)
    assert openers.url(raw) == f"{app.config['BASE_URL'].rstrip('/')}/s/open/{raw}"

    assert openers.open(raw) == case
    assert openers.open(raw) is None, "an opener opens once"
    assert openers.open("not-an-opener") is None
    assert openers.open("x" * 500) is None


def test_an_expired_opener_opens_nothing(app_ctx):
    case = make_case()
    raw = openers.issue(case)
    db.session.scalars(select(Opener).where(Opener.case_id == case.id)).one().expires_at = (
        datetime.now(timezone.utc) - timedelta(seconds=1))
    db.session.flush()
    assert openers.open(raw) is None


def test_an_opener_of_a_case_being_erased_opens_nothing(app_ctx):
    case = make_case()
    raw = openers.issue(case)
    erasure.request_erasure(case)
    db.session.flush()
    assert openers.open(raw) is None


def test_rotation_replaces_the_token_voids_the_openers_and_announces_a_new_link(app_ctx):
    token, token_hash = new_token()
    case = make_case(token_hash=token_hash)
    first, second = openers.issue(case), openers.issue(case)
    link_recovery.rotate(case)
    db.session.flush()
    assert case_for_token(token) is None
    assert openers.open(first) is None and openers.open(second) is None
    event = db.session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.LINK_ROTATED)).one()
    job = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.job == Job.NOTIFY_PATIENT_EVENT)).one()
    assert job.payload["event"] == "new_link" and job.payload["ref"] == event.id


def test_asking_for_links_records_one_sealed_job_without_looking_the_address_up(app_ctx):
    message = link_recovery.ask_for_links("  Somebody@Example.ORG ")
    assert message.job == Job.SEND_LOST_LINKS and message.case_id is None
    assert "example" not in str(message.payload).lower()
    assert open_secret(message.payload["sealed_email"]) == "somebody@example.org"


def _lost_links_mail(app, smtp_server, smtp_url, address: str) -> list:
    link_recovery.ask_for_links(address)
    app.config["MAIL_URL"] = smtp_url
    try:
        assert run_pending(Job.SEND_LOST_LINKS) == 1
    finally:
        app.config["MAIL_URL"] = None
    return smtp_server.messages()


def test_one_email_lists_each_open_request_with_a_working_opener_and_no_health_data(
        app, app_ctx, smtp_server, smtp_url):
    address = "Lost.Patient@example.org"
    old = make_case(email=address, description=DESCRIPTION, created_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
    new = make_case(email=address.lower(), description=DESCRIPTION, status=CaseStatus.ROUTED)
    closed = make_case(email=address, status=CaseStatus.CLOSED, closed_reason="withdrawn_by_patient")
    erased = make_case(email=address)
    erasure.request_erasure(erased)
    someone_else = make_case(email="other@example.org")
    db.session.flush()

    received = _lost_links_mail(app, smtp_server, smtp_url, "lost.patient@EXAMPLE.org")
    assert len(received) == 1
    mail = received[0]
    body = mail.get_content()
    assert mail["To"] == new.email
    assert mail["Subject"] == "Medtour: the links to your requests"
    assert new.reference in body and old.reference in body
    assert closed.reference not in body and erased.reference not in body and someone_else.reference not in body
    assert body.index(new.reference) < body.index(old.reference), "newest first"
    for forbidden in (DESCRIPTION, "hip", new.treatment.name, new.full_name):
        assert forbidden not in body and forbidden not in mail["Subject"]
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Content-Language"] == "en"
    assert reply_address.case_id_from_address(mail["Reply-To"]) == new.id
    assert reply_address.case_id_from_message_ids([mail["Message-ID"]]) == new.id

    links = [line.strip() for line in body.splitlines() if "/s/open/" in line]
    assert len(links) == 2
    assert {openers.open(_opener_of(url)) for url in links} == {new, old}
    events = db.session.scalars(select(CaseEvent.case_id).where(CaseEvent.kind == EventKind.LINKS_EMAILED)).all()
    assert sorted(events) == sorted([new.id, old.id])


def test_the_lost_links_email_is_sent_once_per_request_and_nothing_for_an_unknown_address(
        app, app_ctx, smtp_server, smtp_url):
    case = make_case(email="once@example.org")
    message = link_recovery.ask_for_links("once@example.org")
    app.config["MAIL_URL"] = smtp_url
    try:
        assert run_pending(Job.SEND_LOST_LINKS) == 1
        # The job running again (a retry after a crash) sends nothing new.
        assert link_recovery.send_lost_links("once@example.org", message.payload["request"]) is False
        assert link_recovery.send_lost_links("nobody@example.org", "another") is False
    finally:
        app.config["MAIL_URL"] = None
    assert len(smtp_server.messages()) == 1
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.case_id == case.id)) == 1
    assert db.session.scalar(select(func.count(Opener.id)).where(Opener.case_id == case.id)) == 1


def test_a_russian_newest_request_gets_the_email_in_russian(app, app_ctx, smtp_server, smtp_url):
    make_case(email="ru@example.org", language="en", created_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
    newest = make_case(email="ru@example.org", language="ru")
    db.session.flush()
    [mail] = _lost_links_mail(app, smtp_server, smtp_url, "ru@example.org")
    assert mail["Content-Language"] == "ru"
    assert mail["Subject"] == "Medtour: ссылки на ваши заявки"
    body = mail.get_content()
    assert newest.reference in body and "Здравствуйте" in body and "Hello" not in body
