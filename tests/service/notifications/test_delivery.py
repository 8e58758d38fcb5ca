"""Each notification is sent once (SQLite and PostgreSQL, a real SMTP server): the
ledger row, retries after a transient failure, at-least-once after a crash, and a
"sent" mark that survives the caller's rollback."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from service.models import Attachment, Case, Clinic, Notification, Referral, Treatment
from service.notifications import (
    CLINIC_REFERRAL,
    PATIENT_CONFIRMATION,
    SENDING,
    SENT,
    MailUnavailable,
    delivery,
    emails,
    notify_once,
)
from tests.fixtures.cases import make_case
from tests.fixtures.referrals import make_referral
from tests.fixtures.services import free_port
from tests.fixtures.smtp import Mailbox

MAIL_FROM = "Medtour <no-reply@medtour.example>"
CONTACT = "care@medtour.example"
DESCRIPTION = "Above-knee amputation in 2019; the socket prosthesis causes sores."
MEDICATIONS = "Metformin 500 mg twice daily"
FILENAME = "MRI_left_femur_2026.pdf"


@pytest.fixture
def case(db_session) -> Case:
    treatment = db_session.scalars(select(Treatment).order_by(Treatment.id)).first()
    case = make_case(
        now=datetime.now(timezone.utc), full_name="Amina Petrova", email="amina@example.org", language="ru",
        treatment=treatment, description=DESCRIPTION, medications=MEDICATIONS,
        conditions="Type 2 diabetes, controlled",
    )
    case.attachments.append(Attachment(
        filename=FILENAME, storage_key=f"cases/{case.id}/attachments/a", content_type="application/pdf",
        size=1, sha256="0" * 64,
    ))
    db_session.commit()
    return case


@pytest.fixture
def referrals(db_session, case: Case) -> list[Referral]:
    clinics = db_session.scalars(select(Clinic).order_by(Clinic.id).limit(2)).all()
    rows = [make_referral(case, c) for c in clinics]
    db_session.commit()
    return rows


def patient_builder(case: Case, status_url: str = "http://medtour.test/s/secret-token") -> Callable[[], EmailMessage]:
    """What the notify_patient job hands to notify_once."""
    return lambda: emails.patient_confirmation(
        reference=case.reference, status_url=status_url, language=case.language,
        contact_email=CONTACT, mail_from=MAIL_FROM, to=case.email,
    )


def notify_patient(session, case: Case, mail_url: str | None, **overrides) -> bool:
    arguments = dict(
        case_id=case.id, kind=PATIENT_CONFIRMATION, recipient=case.email, referral_id=None,
        build=patient_builder(case), mail_url=mail_url,
    )
    arguments.update(overrides)
    return notify_once(session, **arguments)


def notify_clinic(session, referral: Referral, mail_url: str | None) -> bool:
    clinic = referral.clinic
    return notify_once(
        session, case_id=referral.case_id, kind=CLINIC_REFERRAL, recipient=clinic.email,
        referral_id=referral.id, mail_url=mail_url,
        build=lambda: emails.clinic_referral(
            reference=referral.case.reference, portal_url=f"http://medtour.test/clinic/referrals/{referral.id}",
            clinic_name=clinic.name, mail_from=MAIL_FROM, to=clinic.email, contact_email=CONTACT,
        ),
    )


def ledger(session, case: Case) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.case_id == case.id).order_by(Notification.id)))


def test_running_twice_sends_one_email(db_session, case, smtp_server: Mailbox, smtp_url):
    assert notify_patient(db_session, case, smtp_url) is True
    assert notify_patient(db_session, case, smtp_url) is False
    assert len(smtp_server.envelopes) == 1
    [row] = ledger(db_session, case)
    assert (row.kind, row.recipient, row.status, row.referral_id) == (PATIENT_CONFIRMATION, case.email, SENT, None)
    assert row.sent_at is not None and row.sent_at.tzinfo is not None
    [received] = smtp_server.messages()
    assert "http://medtour.test/s/secret-token" in received.get_content()


def test_the_sent_mark_survives_the_callers_rollback(db_session, case, smtp_server: Mailbox, smtp_url):
    """outbox.execute commits after the job; if that commit fails it rolls back. The
    email went out, so its record must not go with it, or the retry sends it again."""
    assert notify_patient(db_session, case, smtp_url)
    case.status = "needs_attention"
    db_session.rollback()
    assert [r.status for r in ledger(db_session, case)] == [SENT]
    assert notify_patient(db_session, case, smtp_url) is False
    assert len(smtp_server.envelopes) == 1


def test_a_transient_failure_raises_keeps_the_claim_and_the_retry_sends(
    db_session, case, smtp_server: Mailbox, smtp_url
):
    with pytest.raises(MailUnavailable):
        notify_patient(db_session, case, f"smtp://127.0.0.1:{free_port()}")
    db_session.rollback()  # what outbox.execute does before recording the failure
    assert [r.status for r in ledger(db_session, case)] == [SENDING]

    assert notify_patient(db_session, case, smtp_url) is True
    assert [r.status for r in ledger(db_session, case)] == [SENT]
    assert len(smtp_server.envelopes) == 1


def test_a_claim_left_by_a_crash_is_sent_again(db_session, case, smtp_server: Mailbox, smtp_url):
    """At-least-once: SENDING means the outcome is unknown, so the retry sends."""
    db_session.add(Notification(case_id=case.id, kind=PATIENT_CONFIRMATION, recipient=case.email, status=SENDING))
    db_session.commit()
    assert notify_patient(db_session, case, smtp_url) is True
    assert len(smtp_server.envelopes) == 1
    assert [r.status for r in ledger(db_session, case)] == [SENT]


def test_a_concurrent_run_that_inserted_first_wins(db_session, case, smtp_server: Mailbox, smtp_url, monkeypatch):
    """The other worker's row appears between our look-up and our insert: the unique
    key refuses ours inside a savepoint and its SENT row is honoured."""
    db_session.add(Notification(case_id=case.id, kind=PATIENT_CONFIRMATION, recipient=case.email, status=SENT))
    db_session.commit()
    real_find = delivery._find
    lookups = []

    def find_missing_the_first_time(*args):
        lookups.append(args)
        return None if len(lookups) == 1 else real_find(*args)

    monkeypatch.setattr(delivery, "_find", find_missing_the_first_time)
    assert notify_patient(db_session, case, smtp_url) is False
    assert len(lookups) == 2
    assert smtp_server.envelopes == []
    assert [r.status for r in ledger(db_session, case)] == [SENT]


def test_the_message_must_go_to_the_ledgers_recipient(db_session, case, smtp_server: Mailbox, smtp_url):
    with pytest.raises(ValueError, match="ledger"):
        notify_patient(db_session, case, smtp_url, recipient="someone-else@example.org")
    assert smtp_server.envelopes == []


def test_the_message_is_built_only_when_it_is_sent(db_session, case, smtp_server: Mailbox, smtp_url):
    assert notify_patient(db_session, case, smtp_url)
    built = []
    notify_patient(db_session, case, smtp_url, build=lambda: built.append(1) or patient_builder(case)())
    assert built == []


def test_each_clinic_gets_its_own_referral_email_once(db_session, case, referrals, smtp_server: Mailbox, smtp_url):
    for _ in range(2):
        for referral in referrals:
            notify_clinic(db_session, referral, smtp_url)
    assert sorted(e.rcpt_tos[0] for e in smtp_server.envelopes) == sorted(r.clinic.email for r in referrals)
    rows = ledger(db_session, case)
    assert [(r.kind, r.referral_id, r.status) for r in rows] == [(CLINIC_REFERRAL, r.id, SENT) for r in referrals]


def test_what_reaches_the_server_holds_no_health_data(db_session, case, referrals, smtp_server: Mailbox, smtp_url):
    notify_patient(db_session, case, smtp_url)
    notify_clinic(db_session, referrals[0], smtp_url)
    assert len(smtp_server.envelopes) == 2
    forbidden = [DESCRIPTION, MEDICATIONS, FILENAME, case.conditions, case.treatment.name, case.treatment.slug,
                 case.full_name, "amputation", "Metformin", "diabetes"]
    for received in smtp_server.messages():
        text = "\n".join(f"{k}: {v}" for k, v in received.items()) + "\n" + received.get_content()
        assert case.reference in text
        for value in forbidden:
            assert value.lower() not in text.lower(), value


def test_without_mail_url_the_email_is_logged_and_recorded_sent(db_session, case, caplog):
    with caplog.at_level(logging.INFO, logger="service.notifications"):
        assert notify_patient(db_session, case, None) is True
        assert notify_patient(db_session, case, None) is False
    logged = [r.getMessage() for r in caplog.records if "MAIL_URL unset" in r.getMessage()]
    assert len(logged) == 1
    assert "http://medtour.test/s/secret-token" in logged[0]
    assert [r.status for r in ledger(db_session, case)] == [SENT]
