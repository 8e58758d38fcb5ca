"""A Russian patient kept informed by e-mail, in a real browser: the coordinator asks a
question, the question e-mail (in Russian, no health data) carries a single-use opener,
the patient opens it, sees what to do and answers; both clinics quote, the "quotes are
ready" e-mail's opener leads to the page that says "2 quotes are waiting", the patient
compares and chooses; the clinic that was not chosen is told, and signed in to the
portal (English) sees "Not chosen" with no way to revise its quote.

The background work runs for real: the pages relay their outbox rows to Redis and an
in-process RQ worker sends the e-mails to an aiosmtpd sink; the links in the e-mails
point at the live server (`BASE_URL`)."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.conftest import empty_queues, remove_case, run_worker
from tests.fixtures.smtp import Mailbox
from tests.fixtures.staff import PASSWORD

TREATMENT = "osseointegrated-prosthesis-transfemoral"
CHOSEN = ("spree-limb-clinic-berlin", "Spree Limb Reconstruction Clinic")
OTHER = ("baltic-limb-vilnius", "Baltic Prosthetics & Orthopaedics")
DESCRIPTION = "Ампутация выше колена после аварии, культя болит при ходьбе."
QUESTION = "Пришлите, пожалуйста, свежий рентген культи."
ANSWER = "Рентген сделаю в пятницу и пришлю."
OPENER = re.compile(r"https?://\S+/s/open/[\w-]+")


@dataclass(frozen=True)
class Seeded:
    case_id: int
    reference: str
    email: str
    referrals: dict[str, int]
    clinic_users: dict[str, str]
    clinic_inboxes: dict[str, str]
    coordinator: str


def _seed(app: Flask) -> Seeded:
    """A Russian case routed to two clinics that have not answered yet, a coordinator, a
    portal user per clinic."""
    from service.accounts.roles import CLINIC, COORDINATOR
    from service.cases.status import CaseStatus
    from service.cases.tokens import new_token
    from service.extensions import db
    from service.models import Clinic, Referral, Treatment
    from tests.fixtures.cases import make_case
    from tests.fixtures.staff import make_user

    tag = uuid.uuid4().hex[:8]
    now = datetime.now(timezone.utc)
    with app.app_context():
        treatment = db.session.scalars(select(Treatment).where(Treatment.slug == TREATMENT)).one()
        clinics = {c.slug: c for c in db.session.scalars(select(Clinic).where(Clinic.slug.in_([CHOSEN[0], OTHER[0]])))}
        case = make_case(
            now=now, age=timedelta(hours=3), status=CaseStatus.ROUTED, token_hash=new_token()[1], treatment=treatment,
            language="ru", full_name=f"Анна Смирнова {tag}", email=f"anna.{tag}@example.org", description=DESCRIPTION,
        )
        referrals = {slug: Referral(case=case, clinic=clinics[slug], score=1.0, reasons=[]) for slug in clinics}
        db.session.add_all(referrals.values())
        db.session.flush()
        users = {slug: make_user(CLINIC, clinic_id=clinics[slug].id, email=f"portal-{tag}@{slug}.example")
                 for slug in clinics}
        coordinator = make_user(COORDINATOR, email=f"coordinator-{tag}@medtour.example")
        db.session.commit()
        seeded = Seeded(
            case_id=case.id, reference=case.reference, email=case.email,
            referrals={slug: r.id for slug, r in referrals.items()},
            clinic_users={slug: u.email for slug, u in users.items()},
            clinic_inboxes={slug: c.email for slug, c in clinics.items()},
            coordinator=coordinator.email,
        )
        db.session.remove()
    return seeded


def _forget(app: Flask, seeded: Seeded) -> None:
    remove_case(app, seeded.case_id, (*seeded.clinic_users.values(), seeded.coordinator))


@pytest.fixture
def seeded(live_app: Flask, live_server: str, smtp_server: Mailbox, redis_url: str,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Seeded]:
    monkeypatch.setitem(live_app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(live_app.config, "MAIL_URL", f"smtp://127.0.0.1:{smtp_server.port}")
    monkeypatch.setitem(live_app.config, "BASE_URL", live_server)
    empty_queues(live_app)
    made = _seed(live_app)
    try:
        yield made
    finally:
        _forget(live_app, made)


def _to(mailbox: Mailbox, address: str) -> list[EmailMessage]:
    return [m for e, m in zip(mailbox.envelopes, mailbox.messages()) if address in e.rcpt_tos]


def _body(message: EmailMessage) -> str:
    return "\n".join(p.get_content() for p in message.walk() if p.get_content_type() == "text/plain")


def _patient_email(mailbox: Mailbox, seeded: Seeded, subject: str) -> str:
    """The one e-mail to the patient with this subject, checked for language and
    hygiene; the opener it carries."""
    found = [m for m in _to(mailbox, seeded.email) if str(m["Subject"]) == subject]
    assert len(found) == 1, f"{len(found)} e-mails {subject!r}: {[str(m['Subject']) for m in _to(mailbox, seeded.email)]}"
    message = found[0]
    assert message["Content-Language"] == "ru" and message["Auto-Submitted"] == "auto-generated"
    body = _body(message)
    assert seeded.reference in body
    for secret in (DESCRIPTION, QUESTION, ANSWER, "протез", "Osseointegrated", CHOSEN[1], OTHER[1], "EUR"):
        assert secret not in body and secret not in str(message["Subject"]), f"{secret!r} in the e-mail"
    links = OPENER.findall(body)
    assert len(links) == 1, body
    return links[0]


def _post(page: Page, click) -> int:
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        click()
    return posted.value.status


def _ask(app: Flask, seeded: Seeded) -> None:
    """The coordinator asks the patient (the staff console's action, through the domain)."""
    from service import outbox
    from service.cases import workflow
    from service.extensions import db
    from service.models import Case, User

    with app.app_context():
        case = db.session.get(Case, seeded.case_id)
        coordinator = db.session.scalars(select(User).where(User.email == seeded.coordinator)).one()
        workflow.perform(case, "request_info", coordinator, question=QUESTION)
        outbox.commit()
        db.session.remove()


def _quote(app: Flask, seeded: Seeded, slug: str, price: str) -> None:
    """A clinic accepts with a quote (the portal's answer, through the domain)."""
    from service import outbox
    from service.cases import quotes
    from service.extensions import db
    from service.models import Referral, User

    today = datetime.now(timezone.utc).date()
    with app.app_context():
        referral = db.session.get(Referral, seeded.referrals[slug])
        user = db.session.scalars(select(User).where(User.email == seeded.clinic_users[slug])).one()
        quotes.accept(referral, quotes.Terms(
            price=price, currency="EUR", includes=["treatment", "stay"], earliest_date=today + timedelta(days=21),
            stay_days=10, valid_until=today + timedelta(days=45),
        ), user)
        outbox.commit()
        db.session.remove()


def _patient(make_page) -> Page:
    return make_page(locale="ru-RU", extra_http_headers={"Accept-Language": "ru-RU,ru;q=0.9"})


@pytest.mark.browser
def test_a_russian_patient_answers_by_the_e_mailed_link_then_chooses_and_the_other_clinic_is_told(
    make_page, seeded: Seeded, live_app: Flask, smtp_server: Mailbox, screenshot, browser_log,
) -> None:
    # ------------------------------------------------------------ the question e-mail
    _ask(live_app, seeded)
    run_worker(live_app)
    opener = _patient_email(smtp_server, seeded, f"Medtour: координатор задал вам вопрос ({seeded.reference})")

    # ------------------------------------------------------------ opener → answer
    patient = _patient(make_page)
    patient.goto(opener)
    expect(patient).to_have_url(re.compile(r"/s/[\w-]+$"))
    expect(patient.locator("html")).to_have_attribute("lang", "ru")
    expect(patient.get_by_role("heading", level=1)).to_have_text(f"Ваша заявка {seeded.reference}")
    expect(patient.locator("#status-title .status")).to_have_text("Ждём вашего ответа")
    stepper = patient.get_by_role("list", name="Ход вашей заявки")
    expect(stepper.locator('[aria-current="step"] .journey-label')).to_have_text("Ответы клиник")
    action = patient.locator(".next-action")
    expect(action.locator(".next-action-text")).to_have_text("Ответьте на вопрос координатора")
    action.get_by_role("link", name="Перейти").click()
    expect(patient).to_have_url(re.compile(r"#question-title$"))
    question = patient.get_by_role("region", name="Вопрос от вашего координатора")
    expect(question).to_contain_text(QUESTION)
    screenshot(patient, "question")
    question.get_by_label("Ваш ответ").fill(ANSWER)
    status = _post(patient, question.get_by_role("button", name="Отправить ответ").click)
    assert status == 303, f"the answer was refused (HTTP {status})"
    expect(patient.locator(".notice-success")).to_contain_text("Спасибо: ваш ответ отправлен координатору.")
    expect(patient.locator("#status-title .status")).to_have_text("Отправлена в клиники")
    expect(patient.locator(".next-action")).to_have_count(0)
    expect(patient.get_by_role("region", name="Ваши ответы")).to_contain_text(ANSWER)

    # The opener worked once: in another browser it opens nothing and offers a new link.
    stranger = _patient(make_page)
    refused = stranger.goto(opener)
    assert refused is not None and refused.status == 410
    expect(stranger.get_by_role("heading", level=1)).to_have_text("Эта ссылка больше не действует")
    expect(stranger.locator("body")).not_to_contain_text(seeded.reference)
    expect(stranger.locator('input[name="email"]')).to_be_visible()

    # ------------------------------------------------------------ quotes e-mail → choose
    _quote(live_app, seeded, OTHER[0], "41500")
    _quote(live_app, seeded, CHOSEN[0], "54000")
    run_worker(live_app)
    _patient_email(smtp_server, seeded, f"Medtour: готово первое предложение ({seeded.reference})")
    opener = _patient_email(smtp_server, seeded, f"Medtour: предложения готовы ({seeded.reference})")

    patient = _patient(make_page)
    patient.goto(opener)
    expect(patient.locator("#status-title .status")).to_have_text("Предложения готовы")
    stepper = patient.get_by_role("list", name="Ход вашей заявки")
    expect(stepper.locator('[aria-current="step"] .journey-label')).to_have_text("Выбор клиники")
    expect(patient.locator(".next-action-text")).to_have_text("Вас ждут 2 предложения: сравните и выберите")
    cards = patient.locator(".quote-grid > .quote-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0).get_by_role("heading", level=3)).to_have_text(OTHER[1])  # cheapest first
    screenshot(patient, "quotes")
    chosen_card = patient.get_by_role("article", name=CHOSEN[1], exact=True)
    chosen_card.get_by_role("link", name="Выбрать эту клинику").click()
    expect(patient).to_have_url(re.compile(r"/quotes/\d+/choose$"))
    status = _post(patient, patient.get_by_role("button", name=f"Да, выбрать клинику {CHOSEN[1]}").click)
    assert status == 303, f"the choice was refused (HTTP {status})"
    expect(patient.get_by_role("region", name=f"Ваш выбор: {CHOSEN[1]}")).to_be_visible()
    expect(patient.locator("#status-title .status")).to_have_text("Клиника выбрана")
    expect(patient.get_by_role("list", name="Ход вашей заявки").locator('[aria-current="step"] .journey-label')
           ).to_have_text("Поездка")
    expect(patient.locator(".next-action")).to_have_count(0)
    screenshot(patient, "chosen")

    # ------------------------------------------------------------ the clinic not chosen
    run_worker(live_app)
    told = [str(m["Subject"]) for m in _to(smtp_server, seeded.clinic_inboxes[OTHER[0]])]
    assert told == [f"Medtour: the patient chose another clinic ({seeded.reference})"], told
    clinic = make_page()
    clinic.goto("/clinic/login")
    clinic.get_by_label("Email address").fill(seeded.clinic_users[OTHER[0]])
    clinic.get_by_label("Password").fill(PASSWORD)
    assert _post(clinic, clinic.get_by_role("button", name="Sign in").click) == 303
    clinic.goto(f"/clinic/referrals/{seeded.referrals[OTHER[0]]}")
    expect(clinic.locator("html")).to_have_attribute("lang", "en")
    expect(clinic.locator("#referral-status")).to_have_text("Not chosen")
    expect(clinic.locator("#not-chosen")).to_contain_text("The patient chose another clinic")
    expect(clinic.get_by_role("region", name="Revise your quote")).to_have_count(0)
    expect(clinic.get_by_role("button", name=re.compile("revis", re.IGNORECASE))).to_have_count(0)
    screenshot(clinic, "clinic-not-chosen")

    browser_log.assert_clean()
