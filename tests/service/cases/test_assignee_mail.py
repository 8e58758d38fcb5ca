"""The coordinator assigned to a case is e-mailed when the patient writes or answers a
question from the status page: once each, from the real SMTP sink, with the case link
and nothing of what the patient wrote; an unassigned case e-mails nobody."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service.cases import messages, workflow
from service.extensions import db
from service.models import Case, Notification, PatientQuestion
from service.outbox import Job
from tests.fixtures.cases import post_request, rows
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.staff import make_user

ANSWER = "The left knee; the X-ray is from March."
MESSAGE = "My knee is swollen again since yesterday."


@pytest.fixture
def mail(app, smtp_server, smtp_url, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", smtp_url)
    return smtp_server


def assigned(client) -> tuple[Case, str, str]:
    """A case sent through the form, assigned to a coordinator: the case, its status page, the e-mail."""
    case, path = post_request(client, language="en")
    coordinator = make_user()
    case.assignee = coordinator
    db.session.commit()
    return case, path, coordinator.email


def test_the_assignee_is_emailed_once_when_the_patient_answers(client, mail):
    case, path, coordinator = assigned(client)
    question = workflow.perform(case, "request_info", make_user(), question="Which knee hurts?")
    db.session.commit()
    assert client.post(f"{path}/answer", data={"reply-answer": ANSWER},
                       content_type="multipart/form-data").status_code == 303
    assert run_pending(Job.NOTIFY_STAFF_PATIENT_WROTE) == 1
    assert messages.notify_assignee(case, question_id=question.id) is False  # the job again sends nothing
    [received] = mail.to(coordinator)
    assert f"the patient answered your question on {case.reference}" in received
    assert f"/staff/cases/{case.reference}" in received
    assert "X-ray is from March" not in received and "left knee" not in received
    assert len(mail.envelopes) == len([e for e in mail.envelopes if coordinator in e.rcpt_tos]) == 1
    assert db.session.scalars(
        select(Notification.kind).where(Notification.case_id == case.id, Notification.recipient == coordinator)
    ).all() == [f"patient_answered:{question.id}"]


def test_the_assignee_is_emailed_once_when_the_patient_writes(client, mail):
    case, path, coordinator = assigned(client)
    response = client.post(f"{path}/messages", data={"message-body": MESSAGE}, content_type="multipart/form-data")
    assert response.status_code == 303, response.text
    assert run_pending(Job.NOTIFY_STAFF_PATIENT_WROTE) == 1
    assert run_pending(Job.NOTIFY_STAFF_PATIENT_WROTE) == 0
    [received] = mail.to(coordinator)
    assert f"the patient wrote on {case.reference}" in received and "swollen" not in received


def test_an_unassigned_case_emails_no_coordinator(client, mail):
    case, path = post_request(client, language="en")
    question = workflow.perform(case, "request_info", make_user(), question="Which knee hurts?")
    db.session.commit()
    client.post(f"{path}/answer", data={"reply-answer": ANSWER}, content_type="multipart/form-data")
    assert db.session.get(PatientQuestion, question.id).answered_at is not None
    assert rows(case, Job.NOTIFY_STAFF_PATIENT_WROTE) == []
