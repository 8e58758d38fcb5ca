"""The patient's side of "request more information": the question on the status page,
the answer (text and files, within the same per-case limit) resuming the case, and
the answer reaching staff."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from service.cases import workflow
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Attachment, Case, CaseEvent, PatientQuestion
from storage import StorageUnavailable
from tests.fixtures import files
from tests.fixtures.cases import post_request
from tests.fixtures.forms import upload
from tests.fixtures.staff import sign_in

QUESTION = "Which knee hurts, left or right? A recent X-ray would help."


def reload(case: Case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def ask(case: Case, user) -> PatientQuestion:
    asked = workflow.perform(case, "request_info", user, question=QUESTION)
    db.session.commit()
    return asked


def answer(client, path: str, text: str = "The left one; X-ray attached.", parts=()):
    data = {"reply-answer": text}
    if parts:
        data["reply-files"] = [upload(c, n) for c, n in parts]
    return client.post(f"{path}/answer", data=data, content_type="multipart/form-data")


@pytest.fixture
def waiting(client, coordinator) -> tuple[Case, str, PatientQuestion]:
    # An English case: these tests read the page's English; test_status_i18n.py reads Russian.
    case, path = post_request(client, files=[upload(files.png(i), f"p{i}.png") for i in range(8)], language="en")
    return case, path, ask(case, coordinator)


def test_the_status_page_shows_the_open_question_with_an_answer_form(client, waiting):
    case, path, _ = waiting
    page = client.get(path)
    assert page.status_code == 200
    assert "A question from your coordinator" in page.text
    assert "Which knee hurts, left or right?" in page.text
    assert f'action="{path}/answer"' in page.text
    assert "Waiting for your answer" in page.text
    assert "2 of 10 files left" in page.text


def test_no_question_no_answer_form(client):
    case, path = post_request(client, language="en")
    page = client.get(path)
    assert "A question from your coordinator" not in page.text and "/answer" not in page.text


def test_answering_resumes_the_case_and_the_clock(client, waiting):
    case, path, asked = waiting
    case.sla_paused_since -= timedelta(hours=3)
    db.session.commit()
    response = answer(client, path)
    assert response.status_code == 303
    case = reload(case)
    assert case.status == CaseStatus.SUBMITTED
    assert case.sla_paused_since is None and case.sla_paused_seconds >= 3 * 3600
    asked = db.session.get(PatientQuestion, asked.id)
    assert asked.answer == "The left one; X-ray attached." and asked.answered_at is not None
    last = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc()))
    assert (last.kind, last.actor, last.details["new"]) == ("status_changed", "patient", CaseStatus.SUBMITTED)

    page = client.get(response.location)
    assert "Thank you: your answer was sent to your coordinator." in page.text
    assert "A question from your coordinator" not in page.text
    assert "Your answers" in page.text and "The left one; X-ray attached." in page.text


def test_answer_with_files_adds_them_in_the_same_step(client, waiting):
    case, path, _ = waiting
    response = answer(client, path, parts=[(files.jpeg(), "xray.jpg"), (files.pdf(), "report.pdf")])
    assert response.status_code == 303
    case = reload(case)
    assert case.status == CaseStatus.SUBMITTED
    assert [a.filename for a in case.attachments][-2:] == ["xray.jpg", "report.pdf"]
    assert "0 of 10 files left" in client.get(path).text


def test_answer_files_obey_the_ten_file_limit_and_nothing_is_recorded(client, waiting):
    case, path, asked = waiting
    events_before = db.session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == case.id))
    refused = answer(client, path, parts=[(files.png(), f"x{i}.png") for i in range(3)])
    assert refused.status_code == 422
    assert "You picked 3 files but only 2 of 10 can still be added (8 already attached)." in refused.text
    assert "The left one; X-ray attached." in refused.text  # what was typed is kept
    case = reload(case)
    assert case.status == CaseStatus.AWAITING_PATIENT
    assert db.session.get(PatientQuestion, asked.id).answered_at is None
    assert db.session.scalar(select(func.count(Attachment.id)).where(Attachment.case_id == case.id)) == 8
    assert db.session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == case.id)) == events_before


def test_an_empty_answer_is_refused(client, waiting):
    case, path, _ = waiting
    refused = answer(client, path, text="   ")
    assert refused.status_code == 422
    assert "Write your answer to the question." in refused.text
    assert reload(case).status == CaseStatus.AWAITING_PATIENT


def test_when_the_store_is_down_neither_answer_nor_files_are_kept(client, waiting, storage, monkeypatch):
    case, path, asked = waiting

    def down(*args, **kwargs):
        raise StorageUnavailable("store down")

    monkeypatch.setattr(storage, "put", down)
    refused = answer(client, path, parts=[(files.png(), "late.png")])
    assert refused.status_code == 503
    assert "your answer was not sent either" in refused.text
    case = reload(case)
    assert case.status == CaseStatus.AWAITING_PATIENT and len(case.attachments) == 8
    assert db.session.get(PatientQuestion, asked.id).answered_at is None


def test_answering_twice_or_without_a_question_changes_nothing(client, waiting):
    case, path, _ = waiting
    assert answer(client, path).status_code == 303
    again = answer(client, path, text="Another answer")
    assert again.status_code == 303
    assert "There is no open question" in client.get(again.location).text
    assert db.session.scalar(
        select(func.count(PatientQuestion.id)).where(PatientQuestion.answer == "Another answer")
    ) == 0


def test_a_bad_token_cannot_answer(client):
    assert client.post("/s/not-a-token/answer", data={"reply-answer": "hi"}).status_code == 404


def test_the_answer_appears_for_staff(client, waiting, coordinator):
    case, path, _ = waiting
    answer(client, path)
    sign_in(client, coordinator)
    page = client.get(f"/staff/cases/{case.reference}")
    assert page.status_code == 200
    assert "Which knee hurts, left or right?" in page.text
    assert "The left one; X-ray attached." in page.text
    assert "Status: New" in page.text  # the timeline shows the case resumed
