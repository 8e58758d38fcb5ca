"""The top of the status page and the API say where the request stands and what the
patient must do now: the headline, the stepper (an ordered list with the current step
marked for assistive technology) and the action box, in English and in Russian."""
from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from service.cases import quotes, workflow
from service.extensions import db
from tests.fixtures.cases import post_request
from tests.service.blueprints.test_status_i18n import text_of
from tests.service.blueprints.test_status_quotes import CHEAP, DEAR, quoted_case, terms

ENGLISH_STEPS = ["Request received", "Reviewing", "Clinics answering", "Choose a clinic", "Trip", "Treatment"]
RUSSIAN_STEPS = ["Заявка получена", "Рассмотрение", "Ответы клиник", "Выбор клиники", "Поездка", "Лечение"]


def stepper(html: str) -> list[tuple[str, str, bool]]:
    """Each step of the stepper: its label, its state, and whether it is aria-current."""
    ol = re.search(r'<ol class="journey"[^>]*>(.*?)</ol>', html, re.S)
    assert ol, "no stepper on the page"
    steps = []
    for attributes, body in re.findall(r"<li ([^>]*)>(.*?)</li>", ol.group(1), re.S):
        label = text_of(re.search(r'<span class="journey-label">(.*?)</span>', body, re.S).group(1))
        state = re.search(r"is-(done|current|todo)", attributes).group(1)
        steps.append((label, state, 'aria-current="step"' in attributes))
    return steps


def action_box(html: str) -> str | None:
    box = re.search(r'<div class="next-action">(.*?)</div>', html, re.S)
    return text_of(box.group(1)) if box else None


def test_quotes_waiting_are_the_headline_the_current_step_and_the_action(client, db_session):
    made = quoted_case(**{DEAR: "12500", CHEAP: "9900"})
    html = client.get(made.page).text
    page = text_of(html)
    assert "Status: Quotes ready Compare the clinics' quotes below and choose the one you want" in page
    assert "Sent to clinics" not in page and "are reviewing your case" not in page
    assert 'aria-label="Progress of your request"' in html
    assert stepper(html) == [
        ("Request received", "done", False), ("Reviewing", "done", False), ("Clinics answering", "done", False),
        ("Choose a clinic", "current", True), ("Trip", "todo", False), ("Treatment", "todo", False),
    ]
    assert html.count('aria-current="step"') == 1
    assert "Choose a clinic (you are here)" in page and "Request received (done)" in page and "Trip (to come)" in page
    assert action_box(html) == "What you need to do 2 quotes are waiting: compare and choose Go there"
    assert 'data-action="choose_quote"' in html and 'href="#quotes-title"' in html


def test_a_new_request_has_no_action_box(client, db_session):
    _case, path = post_request(client, language="en")
    html = client.get(path).text
    assert "Status: Received" in text_of(html)
    assert stepper(html)[0] == ("Request received", "current", True)
    assert [label for label, _state, _current in stepper(html)] == ENGLISH_STEPS
    assert action_box(html) is None


def test_an_open_question_is_the_action_and_points_to_the_question(client, coordinator):
    case, path = post_request(client, language="en")
    workflow.perform(case, "request_info", coordinator, question="Which knee hurts, left or right?")
    db.session.commit()
    html = client.get(path).text
    assert "Status: Waiting for your answer" in text_of(html)
    assert action_box(html) == "What you need to do Answer the coordinator's question Go there"
    assert 'href="#question-title"' in html and 'id="question-title"' in html


def test_a_revision_to_accept_is_the_action(client, db_session):
    made = quoted_case(**{DEAR: "12500"})
    first = made.quotes[DEAR]
    quotes.revise(first.referral, terms(price="11000"), first.created_by)
    db.session.commit()
    html = client.get(made.page).text
    assert action_box(html) == "What you need to do Accept or decline the revised quote Go there"


def test_after_the_choice_the_trip_is_current_and_nothing_waits(client, db_session):
    made = quoted_case(**{DEAR: "12500", CHEAP: "9900"})
    assert client.post(f"{made.page}/quotes/{made.quotes[CHEAP].id}/choose").status_code == 303
    html = client.get(made.page).text
    assert "Status: Clinic chosen" in text_of(html)
    assert [(label, state) for label, state, _ in stepper(html)][3:] == [
        ("Choose a clinic", "done"), ("Trip", "current"), ("Treatment", "todo"),
    ]
    assert action_box(html) is None


def test_the_russian_page_says_it_all_in_russian(client, db_session):
    made = quoted_case(language="ru", **{DEAR: "12500", CHEAP: "9900"})
    html = client.get(made.page).text
    page = text_of(html)
    assert "Статус: Предложения готовы Сравните предложения клиник ниже" in page
    assert "Сравните предложения клиник ниже и выберите подходящее" in page
    assert 'aria-label="Ход вашей заявки"' in html
    assert [label for label, _state, _current in stepper(html)] == RUSSIAN_STEPS
    assert stepper(html)[3] == ("Выбор клиники", "current", True)
    assert "Выбор клиники (вы здесь)" in page and "Заявка получена (пройдено)" in page and "Поездка (впереди)" in page
    assert action_box(html) == "Что нужно сделать Вас ждут 2 предложения: сравните и выберите Перейти"
    for english in ENGLISH_STEPS + ["What you need to do", "quotes are waiting", "Go there"]:
        assert english not in page, english


def test_a_russian_question_is_a_russian_action(client, coordinator):
    case, path = post_request(client)
    assert case.language == "ru"
    workflow.perform(case, "request_info", coordinator, question="Какое колено болит?")
    db.session.commit()
    assert action_box(client.get(path).text) == "Что нужно сделать Ответьте на вопрос координатора Перейти"


def _status(client, token: str) -> dict:
    spec = client.get("/api/v1/openapi.json").get_json()
    body = client.get(f"/api/v1/requests/{token}").get_json()
    Draft202012Validator({"$ref": "#/components/schemas/Status", "components": spec["components"]}).validate(body)
    return body


def test_the_api_gives_the_step_and_the_next_action_in_english(client, db_session):
    made = quoted_case(language="ru", **{DEAR: "12500", CHEAP: "9900"})
    body = _status(client, made.token)
    assert body["step"] == {"code": "choose", "text": "Choose a clinic"}
    assert body["next_action"] == {"code": "choose_quote", "text": "2 quotes are waiting: compare and choose"}
    client.post(f"{made.page}/quotes/{made.quotes[CHEAP].id}/choose")
    body = _status(client, made.token)
    assert body["step"] == {"code": "trip", "text": "Trip"} and body["next_action"] is None
    client.post(f"{made.page}/withdraw")
    body = _status(client, made.token)
    assert body["step"] is None and body["next_action"] is None


def test_the_contract_names_every_step_and_action_code(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    status = spec["components"]["schemas"]["Status"]
    assert {"step", "next_action"} <= set(status["required"])
    codes = {name: next(o for o in status["properties"][name]["oneOf"] if o["type"] == "object")
             ["properties"]["code"]["enum"] for name in ("step", "next_action")}
    assert codes == {
        "step": ["received", "reviewing", "clinics_answering", "choose", "trip", "treatment"],
        "next_action": ["answer_question", "choose_quote", "accept_revision"],
    }
