"""Demo data for trying the staff console: a coordinator, an admin and a few dozen
realistic cases spread over the last weeks, in every status.

Each case is told as a story in time order, through the same building blocks the
service uses: references from `next_reference`, token hashes from `new_token`,
routing through `referrals.route` (real scores and reasons), and every status change
through `events.change_status`, so the timeline, the SLA fields and the referrals agree
as if coordinators and clinics had done the work. Nothing is queued for the workers (no
outbox rows), so seeding does not send email or render PDFs. Cases are marked with
`source = "demo"`; a second run finds them and adds no more."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.accounts.passwords import hash_password
from service.accounts.roles import ADMIN, COORDINATOR
from service.cases import events, referrals
from service.cases.references import next_reference
from service.cases.status import CaseStatus, ReferralStatus
from service.cases.tokens import new_token
from service.demo import texts
from service.models import Case, CaseEvent, Clinic, ClinicTreatment, PatientQuestion, Referral, Treatment, User

S = CaseStatus
COORDINATOR_EMAIL: Final = "coordinator@medtour.example"
ADMIN_EMAIL: Final = "admin@medtour.example"
DEMO_SOURCE: Final = "demo"
DAYS: Final = 45
# Treatments whose only other clinic is not accepting: one refusal leaves no clinic.
SCARCE: Final = ("dental-implants", "all-on-4", "abdominoplasty")

# The stories, and how many of each: 40 cases. Order does not matter; ages do.
PLANS: Final[dict[str, int]] = {
    "new": 6,                  # submitted, hours old
    "routed": 11,              # with clinics, answers coming in
    "question": 5,             # awaiting the patient's answer
    "chosen": 4,               # a clinic accepted, the patient chose it
    "booked": 4,               # closed: booked
    "declined": 2,             # closed: declined by the patient
    "no_clinic": 2,            # closed: every clinic declined
    "duplicate": 1,            # closed: duplicate
    "spam": 1,                 # closed: spam
    "reopened": 2,             # closed, then the patient came back: needs attention
    "exhausted": 2,            # the only clinic declined, re-routing found none: needs attention
}
# Hours a story needs from submission to its last step, so it ends before now.
_SPAN: Final[dict[str, float]] = {
    "new": 0.0, "routed": 60.0, "question": 100.0, "chosen": 300.0, "booked": 430.0, "declined": 300.0,
    "no_clinic": 300.0, "duplicate": 12.0, "spam": 2.0, "reopened": 500.0, "exhausted": 170.0,
}


class DemoError(RuntimeError):
    """Seeding cannot start; the message says what to do."""


@dataclass
class SeedReport:
    created_users: list[str] = field(default_factory=list)
    existing_users: list[str] = field(default_factory=list)
    password: str | None = None
    cases: list[Case] = field(default_factory=list)
    existing_cases: int = 0
    # One case waiting on its patient, with its status-link token, to see the patient's side.
    patient_view: tuple[Case, str] | None = None

    @property
    def statuses(self) -> Counter[str]:
        return Counter(c.status for c in self.cases)


def demo_case_count(session: Session) -> int:
    return session.scalar(select(func.count(Case.id)).where(Case.source == DEMO_SOURCE)) or 0


def _ensure_user(session: Session, email: str, role: str, password: str, report: SeedReport) -> User:
    user = session.scalar(select(User).where(User.email == email))
    if user is not None:
        report.existing_users.append(email)
        return user
    user = User(email=email, password_hash=hash_password(password), role=role, active=True)
    session.add(user)
    report.created_users.append(email)
    return user


class _Story:
    """One case told in time order: every step happens at `self.at` and moves it on."""

    def __init__(self, session: Session, case: Case, rng: random.Random, top_n: int, now: datetime) -> None:
        self.session, self.case, self.rng, self.top_n, self.now = session, case, rng, top_n, now
        self.at = case.created_at
        # Clinic answers keep their own clock: (when, referral, answer), recorded as time passes.
        self.answers: list[tuple[datetime, Referral, ReferralStatus]] = []

    def later(self, low: float, high: float) -> datetime:
        """Move on by some hours; a story never reaches the present (it slows down instead)."""
        step = timedelta(hours=self.rng.uniform(low, high))
        self.at = self.at + step if self.at + step < self.now else self.at + (self.now - self.at) / 2
        self.settle(self.at)
        return self.at

    def _stamp(self) -> None:
        """Date the events code we call has just added (not yet flushed) to now in the story."""
        for obj in self.session.new:
            if isinstance(obj, CaseEvent) and obj.created_at is None:
                obj.created_at = self.at

    def event(self, actor: str, kind: str, **details) -> CaseEvent:
        event = events.record_event(self.case, actor, kind, **details)
        event.created_at = self.at
        return event

    def status(self, new: CaseStatus, actor: str, **details) -> CaseEvent:
        event = events.change_status(self.case, new, actor, **details)
        event.created_at = self.at
        return event

    def staff_acted(self) -> None:
        """What `workflow.perform` does for every action but a note: the first one stops
        the first-response clock."""
        if self.case.first_response_at is None:
            self.case.first_response_at = self.at

    # -- the steps -----------------------------------------------------------

    def assign(self, user: User) -> None:
        self.case.assignee = user
        self.event(_actor(user), "assigned", assignee=user.email, previous=None)
        self.staff_acted()

    def priority(self, user: User, priority: str) -> None:
        old, self.case.priority = self.case.priority, priority
        self.event(_actor(user), "priority_set", old=old, new=priority)
        self.staff_acted()

    def note(self, user: User, body: str) -> None:
        self.event(_actor(user), "note", body=body)

    def route(self, actor: str = events.SYSTEM) -> list[Referral]:
        """Refer through the real ranking; an empty list means the case now needs attention."""
        outcome = referrals.route(self.case, self.top_n, actor=actor)
        self._stamp()
        for referral in outcome.referrals:
            referral.created_at = self.at
        return outcome.referrals

    def clinic_will_answer(self, referral: Referral, answer: ReferralStatus, hours: float) -> None:
        """The clinic accepts or declines `hours` after the referral, unless that is still ahead."""
        at = referral.created_at + timedelta(hours=hours)
        if at < self.now:
            self.answers.append((at, referral, answer))

    def settle(self, until: datetime) -> None:
        """Record, in time order, the clinic answers given by `until`."""
        due = sorted((a for a in self.answers if a[0] <= until), key=lambda a: a[0])
        for at, referral, answer in due:
            self.answers.remove((at, referral, answer))
            referral.status, referral.responded_at = answer, at
            event = events.record_event(
                self.case, f"clinic:{referral.clinic.slug}", "clinic_answered",
                clinic=referral.clinic.slug, answer=str(answer),
            )
            event.created_at = at

    def wait_for_answers(self) -> None:
        """Nothing more happens on the case until every answer still to come is in."""
        if self.answers:
            self.at = max(self.at, max(at for at, _, _ in self.answers))
            self.settle(self.at)

    def ask(self, user: User, question: str) -> PatientQuestion:
        asked = PatientQuestion(case=self.case, asked_by=user, question=question, resume_status=self.case.status, asked_at=self.at)
        self.session.add(asked)
        self.case.sla_paused_since = self.at
        self.status(S.AWAITING_PATIENT, _actor(user), question=question)
        self.staff_acted()
        return asked

    def answered(self, asked: PatientQuestion, answer: str) -> None:
        asked.answer, asked.answered_at = answer, self.at
        self._resume_clock()
        self.session.flush()
        self.status(S(asked.resume_status), events.PATIENT, question_id=asked.id)

    def _resume_clock(self) -> None:
        if self.case.sla_paused_since is not None:
            self.case.sla_paused_seconds += int((self.at - self.case.sla_paused_since).total_seconds())
            self.case.sla_paused_since = None

    def release_contact(self, user: User, referral: Referral) -> None:
        referral.contact_released_at = self.at
        self.event(_actor(user), "contact_released", clinic=referral.clinic.slug)
        self.staff_acted()

    def choose(self, user: User, referral: Referral) -> None:
        self.status(S.CHOSEN, _actor(user), clinic=referral.clinic.slug, referral_id=referral.id)
        self.staff_acted()

    def close(self, user: User, reason: str) -> None:
        self.case.closed_reason = reason
        self._resume_clock()
        self.status(S.CLOSED, _actor(user), reason=reason)
        self.staff_acted()

    def reopen(self, user: User) -> None:
        self.case.closed_reason = None
        self.status(S.NEEDS_ATTENTION, _actor(user))
        self.staff_acted()


def _actor(user: User) -> str:
    return f"staff:{user.email}"


class _Seeder:
    def __init__(self, session: Session, rng: random.Random, now: datetime, top_n: int,
                 coordinator: User, admin: User) -> None:
        self.session, self.rng, self.now, self.top_n = session, rng, now, top_n
        self.coordinator, self.admin = coordinator, admin
        self.treatments = {t.slug: t for t in session.scalars(select(Treatment))}
        self.offered = {slug for slug in session.scalars(select(Treatment.slug).join(ClinicTreatment))}
        self.previous: Case | None = None
        self.told: Counter[str] = Counter()
        # Patients in a shuffled round, so few of them send more than one request.
        self.patients = rng.sample(texts.PATIENTS, len(texts.PATIENTS))
        self.created = 0

    # -- making a case ---------------------------------------------------------

    def _treatment(self, plan: str) -> Treatment:
        if plan == "exhausted":
            slugs = [s for s in SCARCE if s in self.treatments]
        else:
            slugs = sorted(s for s in self.offered if s in texts.DESCRIPTIONS)
        return self.treatments[self.rng.choice(slugs or sorted(self.offered))]

    def _preferred(self, treatment: Treatment) -> Clinic | None:
        if self.rng.random() > 0.3:
            return None
        clinics = list(self.session.scalars(
            select(Clinic).join(ClinicTreatment).where(ClinicTreatment.treatment_id == treatment.id, Clinic.accepting)
            .order_by(Clinic.slug)
        ))
        return self.rng.choice(clinics) if clinics else None

    def new_case(self, plan: str, created_at: datetime) -> tuple[Case, str]:
        rng = self.rng
        token, token_hash = new_token()
        if plan == "duplicate" and self.previous is not None:
            twin = self.previous
            patient = texts.Patient(twin.full_name, twin.email, twin.country, twin.language, twin.phone, "en")
            treatment, description = twin.treatment, twin.description
        else:
            patient = self.patients[self.created % len(self.patients)]
            treatment = self._treatment(plan)
            english, russian = texts.DESCRIPTIONS.get(treatment.slug, (treatment.description, treatment.description))
            description = texts.SPAM if plan == "spam" else (russian if patient.writes == "ru" else english)
        budget, currency = rng.choice(texts.BUDGETS)
        case = Case(
            reference=next_reference(self.session, created_at.year),
            token_hash=token_hash,
            status=S.SUBMITTED,
            source=DEMO_SOURCE,
            full_name=patient.full_name,
            email=patient.email,
            phone=patient.phone,
            country=patient.country,
            language=patient.language,
            date_of_birth=date(created_at.year - rng.randint(24, 76), rng.randint(1, 12), rng.randint(1, 28)),
            treatment=treatment,
            preferred_clinic=None if plan == "spam" else self._preferred(treatment),
            description=description,
            travel_window=rng.choice(texts.TRAVEL_WINDOWS),
            budget=Decimal(budget) if budget else None,
            budget_currency=currency,
            medications=rng.choice(texts.MEDICATIONS),
            allergies=rng.choice(texts.ALLERGIES),
            conditions=rng.choice(texts.CONDITIONS),
            consent_at=created_at,
            created_at=created_at,
        )
        self.session.add(case)
        self.session.flush()
        event = events.record_event(case, events.PATIENT, "case_submitted", source=DEMO_SOURCE, files=0)
        event.created_at = created_at
        self.previous = case
        self.created += 1
        return case, token

    # -- the stories -------------------------------------------------------------

    def _staff(self) -> User:
        return self.admin if self.rng.random() < 0.15 else self.coordinator

    def _clinics_answer(self, story: _Story, refs: list[Referral], plan: str) -> None:
        """How the clinics will answer: most within three days, some late, some not yet;
        the plan decides whether one must accept or all decline."""
        rng = self.rng
        pending_share = {"routed": 0.35, "question": 0.5}.get(plan, 0.2)
        for i, referral in enumerate(refs):
            # Older referrals have mostly been answered by now.
            waiting = pending_share if self.now - referral.created_at < timedelta(days=4) else 0.1
            if plan in ("exhausted", "no_clinic"):
                answer = ReferralStatus.DECLINED
            elif plan in ("chosen", "booked", "declined", "reopened") and i == 0:
                story.clinic_will_answer(referral, ReferralStatus.ACCEPTED, rng.uniform(3, 70))
                continue
            elif rng.random() < waiting:
                continue
            else:
                answer = ReferralStatus.ACCEPTED if rng.random() < 0.65 else ReferralStatus.DECLINED
            story.clinic_will_answer(referral, answer, rng.uniform(3, 70) if rng.random() < 0.85 else rng.uniform(72, 120))

    def _language(self, case: Case) -> str:
        return "ru" if any("\u0400" <= ch <= "\u04ff" for ch in case.description) else "en"

    def tell(self, plan: str, case: Case) -> None:
        story = _Story(self.session, case, self.rng, self.top_n, self.now)
        self._tell(plan, self.told[plan], case, story)
        self.told[plan] += 1
        last = max([story.at] + [at for at, _, _ in story.answers])
        story.settle(self.now)
        case.updated_at = last

    def _tell(self, plan: str, nth: int, case: Case, story: _Story) -> None:
        """The `nth` story of its kind (some features go by number, so every run has them)."""
        rng = self.rng
        staff = self._staff()
        lang = self._language(case)
        if plan == "spam":
            story.later(0.2, 1.5)
            story.close(staff, "spam")
            return
        if plan == "duplicate":
            story.later(1, 10)
            story.note(staff, f"Sent twice by the same patient; we continue on {_twin_reference(case, self.session)}.")
            story.close(staff, "duplicate")
            return
        if plan == "new":
            if nth in (1, 4):  # a coordinator took it; the others wait for a first response
                story.later(0.1, 2)
                story.assign(staff)
                if nth == 4:
                    story.priority(staff, "high")
            return
        if plan == "question" and rng.random() < 0.4:
            story.later(2, 30)
            story.assign(staff)
            story.ask(staff, rng.choice(texts.QUESTIONS[lang][:2]))
            return
        story.later(0.02, 0.1)
        refs = story.route()
        if not refs:
            return  # routing found no clinic: the case needs attention, as it would
        self._clinics_answer(story, refs, plan)
        if plan == "routed" and nth % 5 == 4:  # routed by the system, no coordinator yet
            return
        story.later(1, 20)
        story.assign(staff)
        if rng.random() < 0.25:
            story.note(staff, rng.choice(texts.NOTES))
        if rng.random() < 0.15:
            story.priority(staff, rng.choice(("high", "urgent")))
        if plan == "routed":
            if nth % 4 == 1:
                story.later(2, 12)
                asked = story.ask(staff, texts.QUESTIONS[lang][2])
                story.later(3, 24)
                story.answered(asked, texts.ANSWERS[lang][1])
        elif plan == "question":
            story.wait_for_answers()
            story.later(1, 12)
            story.ask(staff, rng.choice(texts.QUESTIONS[lang][:2]))
        elif plan == "exhausted":
            story.wait_for_answers()
            story.later(1, 8)
            story.staff_acted()
            if not story.route(actor=_actor(staff)):
                story.note(staff, "Asked our partners for another clinic offering this treatment.")
        elif plan == "no_clinic":
            story.wait_for_answers()
            story.later(2, 24)
            story.close(staff, "no_suitable_clinic")
        else:  # chosen, booked, declined, reopened: a clinic accepted
            story.wait_for_answers()
            accepted = [r for r in refs if r.status == ReferralStatus.ACCEPTED]
            if not accepted:
                return  # no clinic has accepted yet: the case stays with the clinics
            story.later(24, 96)
            if plan in ("declined", "reopened"):
                story.close(staff, "declined_by_patient")
                if plan == "reopened":
                    story.later(48, 120)
                    story.reopen(staff)
                    story.note(staff, rng.choice(texts.REOPEN_NOTES))
                return
            story.release_contact(staff, accepted[0])
            story.later(1, 24)
            story.choose(staff, accepted[0])
            if plan == "booked":
                story.later(48, 110)
                story.close(staff, "booked")


def _twin_reference(case: Case, session: Session) -> str:
    twin = session.scalar(
        select(Case.reference).where(Case.email == case.email, Case.id != case.id, Case.source == DEMO_SOURCE)
        .order_by(Case.id.desc())
    )
    return twin or "the earlier request"


def seed(session: Session, *, password: str, now: datetime, top_n: int = 3, rng: random.Random | None = None) -> SeedReport:
    """Create the demo users (those missing) and, unless demo cases exist, the cases.
    Flushes; the caller commits."""
    if session.scalar(select(func.count(ClinicTreatment.id))) == 0:
        raise DemoError("The catalogue is empty: load it first with `flask --app wsgi catalog load data/catalog.json`.")
    rng = rng or random.Random(4)
    report = SeedReport()
    coordinator = _ensure_user(session, COORDINATOR_EMAIL, COORDINATOR, password, report)
    admin = _ensure_user(session, ADMIN_EMAIL, ADMIN, password, report)
    if report.created_users:
        report.password = password
    report.existing_cases = demo_case_count(session)
    if report.existing_cases:
        session.flush()
        return report
    seeder = _Seeder(session, rng, now, top_n, coordinator, admin)
    for plan, created_at in _arrivals(now, rng):
        case, token = seeder.new_case(plan, created_at)
        seeder.tell(plan, case)
        report.cases.append(case)
        if report.patient_view is None and case.status == S.AWAITING_PATIENT:
            report.patient_view = (case, token)
    session.flush()
    return report


def _arrivals(now: datetime, rng: random.Random) -> list[tuple[str, datetime]]:
    """Each story with the time its request came in, oldest first: new ones in the last
    hours, the others spread evenly over the last `DAYS` days, each old enough for its
    story (the youngest slots take the short stories)."""
    hours: list[tuple[str, float]] = [("new", rng.uniform(0.3, 40)) for _ in range(PLANS["new"])]
    remaining = [plan for plan, count in PLANS.items() if plan != "new" for _ in range(count)]
    newest, oldest = 44.0, DAYS * 24 - 2.0
    slots = [newest + (oldest - newest) * (i + rng.random()) / len(remaining) for i in range(len(remaining))]
    for age in slots:
        fitting = [plan for plan in remaining if _SPAN[plan] + 2 <= age] or remaining
        plan = rng.choice(fitting)
        remaining.remove(plan)
        hours.append((plan, age))
    return sorted(
        ((plan, (now - timedelta(hours=age)).replace(microsecond=0)) for plan, age in hours), key=lambda p: p[1]
    )
