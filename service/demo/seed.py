"""Demo data for trying the staff console and the clinic portal: a coordinator, an
admin, a clinic account and a few dozen realistic cases spread over the last weeks, in
every status.

Each case is told as a story in time order, through the same building blocks the
service uses: references from `next_reference`, token hashes from `new_token`,
routing through `referrals.route` (real scores and reasons), quotes checked by
`quotes.check_terms` on the day the clinic answered, and every status change through
`events.change_status`, so the timeline, the SLA fields, the referrals and their quotes
agree as if coordinators, clinics and patients had done the work. The clinics' answers
and the patients' choices are recorded like `quotes.accept`, `quotes.decline` and
`quotes.choose` record them (same fields, same events), but dated in the story's past and
without their outbox rows. Once every story is told, the seed records the document jobs
those flows would have recorded (`record_paperwork`: each case's confirmation, each
referral's dossier, the quote comparison where a clinic quoted, the booking summary and
visa letter where the patient chose), so the worker renders them as it would have; no
email is sent, routing and assignment are not queued. Cases are marked with
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
from service.accounts.roles import ADMIN, CLINIC, COORDINATOR
from service.cases import events, patient_mail, quotes, referrals, sla, trip
from service.cases.events import Actor, EventKind
from service.cases.references import next_reference
from service.cases.status import CaseStatus, ReferralStatus
from service.cases.tokens import new_token
from service.demo import texts
from service.models.trip import LegKind, TripLeg
from service.models import (
    Case, CaseEvent, Clinic, ClinicTreatment, Notification, PatientQuestion, Quote, Referral, Treatment, User,
)
from service.notifications import CLINIC_REFERRAL, SENT
from service.outbox import Job, record
from service.trust import CONSENT_VERSION

S = CaseStatus
COORDINATOR_EMAIL: Final = "coordinator@medtour.example"
ADMIN_EMAIL: Final = "admin@medtour.example"
# The demo clinic account, for the clinic with the most referrals waiting for an answer.
CLINIC_EMAIL: Final = "clinic@medtour.example"
DEMO_SOURCE: Final = "demo"
DAYS: Final = 45
# Treatments whose only other clinic is not accepting: one refusal leaves no clinic.
SCARCE: Final = ("dental-implants", "all-on-4", "abdominoplasty")

# Days a quote stays valid, and the days in hospital (or nearby) it counts on, by category.
QUOTE_VALID_DAYS: Final = (21, 60)
STAY_DAYS: Final[dict[str, tuple[int, int]]] = {
    "orthopaedics": (5, 12), "prosthetics": (10, 21), "cardiology": (7, 14), "oncology": (14, 35),
    "ivf": (10, 16), "dental": (4, 8), "ophthalmology": (2, 5), "bariatric": (4, 7), "cosmetic": (5, 10),
}
# How likely a quote covers each extra (the treatment itself always); an interpreter
# mostly when the clinic does not speak the patient's language.
INCLUDED_ODDS: Final[dict[str, float]] = {"stay": 0.85, "transfers": 0.6}
INTERPRETER_ODDS: Final[dict[bool, float]] = {False: 0.8, True: 0.15}  # does the clinic speak it?
# The youngest stories of this many "routed" ones may be the case whose patient has
# quotes from two clinics to compare (the first of them routed to two clinics or more).
COMPARE_AMONG: Final = 3

# The stories, and how many of each: 40 cases. Order does not matter; ages do.
PLANS: Final[dict[str, int]] = {
    "new": 6,                  # submitted, hours old
    "routed": 11,              # with clinics, answers coming in
    "question": 5,             # awaiting the patient's answer
    "chosen": 4,               # a clinic accepted, the patient chose it
    "booked": 4,               # booked: closed as booked, or on the trip (travel booked, in treatment, returned)
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
    # One case whose patient can choose among quotes from two clinics or more, with its token.
    compare_view: tuple[Case, str] | None = None
    # The demo clinic account (created now or before), with referrals waiting for it.
    clinic_user: User | None = None
    # Document jobs recorded for the worker (`record_paperwork`).
    documents: int = 0

    @property
    def statuses(self) -> Counter[str]:
        return Counter(c.status for c in self.cases)


def demo_case_count(session: Session) -> int:
    return session.scalar(select(func.count(Case.id)).where(Case.source == DEMO_SOURCE)) or 0


def _ensure_user(session: Session, email: str, role: str, password: str, report: SeedReport,
                 clinic: Clinic | None = None, full_name: str | None = None) -> User:
    user = session.scalar(select(User).where(User.email == email))
    if user is not None:
        report.existing_users.append(email)
        user.full_name = user.full_name or full_name
        return user
    user = User(email=email, password_hash=hash_password(password), role=role, active=True, clinic=clinic,
                full_name=full_name)
    session.add(user)
    report.created_users.append(email)
    return user


@dataclass(eq=False)
class _Answer:
    """A clinic's answer still to be recorded: a quote, or a decline with its reason."""

    at: datetime
    referral: Referral
    status: ReferralStatus
    terms: quotes.Terms | None = None
    reason: str = ""


def _quoted_price(amount: Decimal) -> Decimal:
    """A price as clinics quote it: three significant figures, in steps of 5."""
    step = Decimal(5) * Decimal(10) ** max(len(str(int(amount))) - 3, 0)
    return max(step, (amount / step).to_integral_value() * step)


class _Story:
    """One case told in time order: every step happens at `self.at` and moves it on."""

    def __init__(self, session: Session, case: Case, rng: random.Random, top_n: int, now: datetime,
                 prices: dict[tuple[int, int], tuple[Decimal, str]]) -> None:
        self.session, self.case, self.rng, self.top_n, self.now = session, case, rng, top_n, now
        # The catalogue's indicative prices: (clinic id, treatment id) -> (price from, currency).
        self.prices = prices
        self.at = case.created_at
        # Clinic answers keep their own clock, recorded in time order as the story passes them.
        self.answers: list[_Answer] = []

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

    def event(self, actor: str, kind: EventKind, **details) -> CaseEvent:
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
        self.event(Actor.user(user), EventKind.ASSIGNED, assignee=user.email, previous=None)
        self.staff_acted()

    def priority(self, user: User, priority: str) -> None:
        old, self.case.priority = self.case.priority, priority
        self.event(Actor.user(user), EventKind.PRIORITY_SET, old=old, new=priority)
        self.staff_acted()

    def note(self, user: User, body: str) -> None:
        self.event(Actor.user(user), EventKind.NOTE, body=body)

    def route(self, actor: str = Actor.SYSTEM) -> list[Referral]:
        """Refer through the real ranking; an empty list means the case now needs attention."""
        outcome = referrals.route(self.case, self.top_n, actor=actor, dossiers=False)
        self._stamp()
        for referral in outcome.referrals:
            referral.created_at = self.at
        return outcome.referrals

    def clinic_will_answer(self, referral: Referral, answer: ReferralStatus, hours: float,
                           *, lasting: bool = False) -> None:
        """The clinic accepts with a quote, or declines, `hours` after the referral, unless
        that is still ahead. A `lasting` quote is still valid today, however old."""
        at = referral.created_at + timedelta(hours=hours)
        if at >= self.now:
            return
        if answer == ReferralStatus.ACCEPTED:
            self.answers.append(_Answer(at, referral, answer, terms=self._terms(referral, at, lasting)))
        else:
            self.answers.append(_Answer(at, referral, answer, reason=self.rng.choice(texts.DECLINE_REASONS)))

    def _terms(self, referral: Referral, at: datetime, lasting: bool) -> quotes.Terms:
        """What the clinic quotes on the day `at`: its indicative price for the treatment
        and a little more, what the price covers, dates and validity."""
        rng, clinic, case = self.rng, referral.clinic, self.case
        price_from, currency = self.prices[clinic.id, case.treatment_id]
        price = _quoted_price(price_from * Decimal(str(round(rng.uniform(1.0, 1.4), 3))))
        odds = dict(INCLUDED_ODDS, interpreter=INTERPRETER_ODDS[case.language in clinic.languages])
        includes = ["treatment"] + [key for key in quotes.INCLUDES if key in odds and rng.random() < odds[key]]
        valid = rng.randint(*QUOTE_VALID_DAYS)
        if lasting:
            valid = max(valid, (self.now.date() - at.date()).days + rng.randint(21, 40))
        notes = rng.choice(texts.QUOTE_NOTES) if rng.random() < 0.4 else ""
        day = at.date()
        return quotes.Terms(
            price=price, currency=currency, includes=includes, notes=notes,
            earliest_date=day + timedelta(days=rng.randint(7, 45)),
            stay_days=rng.randint(*STAY_DAYS.get(case.treatment.category, (3, 10))),
            valid_until=day + timedelta(days=valid),
        )

    def settle(self, until: datetime) -> None:
        """Record, in time order, the clinic answers given by `until`: what `quotes.accept`
        and `quotes.decline` record (a version-1 quote checked on that day, the referral's
        answer, the timeline event), dated when the clinic answered."""
        due = sorted((a for a in self.answers if a.at <= until), key=lambda a: a.at)
        for answer in due:
            self.answers.remove(answer)
            referral, at = answer.referral, answer.at
            referral.status, referral.responded_at = answer.status, at
            if answer.terms is not None:
                values = quotes.check_terms(answer.terms, at.date())
                quote = Quote(referral=referral, version=1, created_at=at, **values)
                self.session.add(quote)
                self._clinic_event(at, referral, EventKind.CLINIC_QUOTED, price=str(quote.price), currency=quote.currency)
            else:
                referral.decline_reason = answer.reason
                self._clinic_event(at, referral, EventKind.CLINIC_DECLINED, reason=answer.reason)

    def _clinic_event(self, at: datetime, referral: Referral, kind: EventKind, **details) -> None:
        clinic = referral.clinic
        event = events.record_event(
            self.case, Actor.CLINIC.of(clinic.email), kind,
            clinic=clinic.slug, clinic_name=clinic.name, referral_id=referral.id, **details,
        )
        event.created_at = at

    def wait_for_answers(self) -> None:
        """Nothing more happens on the case until every answer still to come is in."""
        if self.answers:
            self.at = max(self.at, max(a.at for a in self.answers))
            self.settle(self.at)

    def ask(self, user: User, question: str) -> PatientQuestion:
        asked = PatientQuestion(case=self.case, asked_by=user, question=question, resume_status=self.case.status, asked_at=self.at)
        self.session.add(asked)
        self.case.sla_paused_since = self.at
        self.status(S.AWAITING_PATIENT, Actor.user(user), question=question)
        self.staff_acted()
        return asked

    def answered(self, asked: PatientQuestion, answer: str) -> None:
        asked.answer, asked.answered_at = answer, self.at
        self._resume_clock()
        self.session.flush()
        self.status(S(asked.resume_status), Actor.PATIENT, question_id=asked.id)

    def _resume_clock(self) -> None:
        if self.case.sla_paused_since is not None:
            self.case.sla_paused_seconds += int((self.at - self.case.sla_paused_since).total_seconds())
            self.case.sla_paused_since = None

    def release_contact(self, user: User, referral: Referral) -> None:
        referral.contact_released_at = self.at
        self.event(Actor.user(user), EventKind.CONTACT_RELEASED, clinic=referral.clinic.slug)
        self.staff_acted()

    def choose(self, referral: Referral, user: User | None = None) -> None:
        """The patient chooses the clinic's quote on the status page (`quotes.choose`), or,
        with `user`, a coordinator records the choice the patient made by phone or email
        (the console's "record the choice")."""
        quote = quotes.current(referral)
        assert quote is not None and quote.valid_until >= self.at.date(), referral
        self.case.chosen_quote = quote
        if user is None:
            self.session.flush()
            self.status(S.CHOSEN, Actor.PATIENT,
                        clinic=referral.clinic.slug, referral_id=referral.id, quote_id=quote.id)
            return
        self.status(S.CHOSEN, Actor.user(user), clinic=referral.clinic.slug, referral_id=referral.id)
        self.staff_acted()

    def close(self, user: User, reason: str) -> None:
        self.case.closed_reason = reason
        self._resume_clock()
        self.status(S.CLOSED, Actor.user(user), reason=reason)
        self.staff_acted()

    def reopen(self, user: User) -> None:
        self.case.closed_reason = None
        self.status(S.NEEDS_ATTENTION, Actor.user(user))
        self.staff_acted()


class _Seeder:
    def __init__(self, session: Session, rng: random.Random, now: datetime, top_n: int,
                 coordinator: User, admin: User) -> None:
        self.session, self.rng, self.now, self.top_n = session, rng, now, top_n
        self.coordinator, self.admin = coordinator, admin
        self.treatments = {t.slug: t for t in session.scalars(select(Treatment))}
        self.offered = {slug for slug in session.scalars(select(Treatment.slug).join(ClinicTreatment))}
        # Clinics accepting cases, per treatment slug: where a patient gets quotes to compare.
        self.accepting = Counter(session.scalars(
            select(Treatment.slug).join(ClinicTreatment).join(Clinic).where(Clinic.accepting)
        ))
        self.prices = {
            (o.clinic_id, o.treatment_id): (o.price_from, o.currency) for o in session.scalars(select(ClinicTreatment))
        }
        # The case whose patient has quotes from two clinics or more to choose from.
        self.compare: Case | None = None
        self.previous: Case | None = None
        self.told: Counter[str] = Counter()
        # Patients in a shuffled round, so few of them send more than one request.
        self.patients = rng.sample(texts.PATIENTS, len(texts.PATIENTS))
        self.created = 0

    # -- making a case ---------------------------------------------------------

    def _may_compare(self, plan: str) -> bool:
        """Whether the next story of `plan` may become the case with quotes to compare."""
        return plan == "routed" and self.compare is None and self.told[plan] >= PLANS[plan] - COMPARE_AMONG

    def _treatment(self, plan: str) -> Treatment:
        if plan == "exhausted":
            slugs = [s for s in SCARCE if s in self.treatments]
        else:
            slugs = sorted(s for s in self.offered if s in texts.DESCRIPTIONS)
            if self._may_compare(plan):
                slugs = [s for s in slugs if self.accepting[s] >= 3] or slugs
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
            consent_version=CONSENT_VERSION,
            created_at=created_at,
        )
        self.session.add(case)
        self.session.flush()
        event = events.record_event(case, Actor.PATIENT, EventKind.CASE_SUBMITTED, source=DEMO_SOURCE, files=0)
        event.created_at = created_at
        self.previous = case
        self.created += 1
        return case, token

    # -- the stories -------------------------------------------------------------

    def _staff(self) -> User:
        return self.admin if self.rng.random() < 0.15 else self.coordinator

    def _clinics_answer(self, story: _Story, refs: list[Referral], plan: str, compare: bool = False) -> None:
        """How the clinics will answer: most within three days, some late, some not yet;
        the plan decides whether one must accept or all decline, and `compare` that the
        first two accept by now with quotes still valid today."""
        rng = self.rng
        pending_share = {"routed": 0.35, "question": 0.5}.get(plan, 0.2)
        for i, referral in enumerate(refs):
            # Older referrals have mostly been answered by now.
            waiting = pending_share if self.now - referral.created_at < timedelta(days=4) else 0.1
            if compare and i < 2:
                since = (self.now - referral.created_at).total_seconds() / 3600
                story.clinic_will_answer(referral, ReferralStatus.ACCEPTED, min(rng.uniform(3, 40), since * 0.8),
                                         lasting=True)
                continue
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
        story = _Story(self.session, case, self.rng, self.top_n, self.now, self.prices)
        self._tell(plan, self.told[plan], case, story)
        self.told[plan] += 1
        last = max([story.at] + [a.at for a in story.answers])
        story.settle(self.now)
        case.updated_at = last
        # The story set the clocks' inputs by hand (first response, answers, pauses).
        sla.refresh_deadline(case)

    def _travel(self, story: _Story, staff: User, nth: int) -> None:
        """A booked case goes on: the clinic's dates entered, then the trip's statuses one by
        one, or closed as booked (every status of the trip appears in each run)."""
        steps = (S.TRAVEL_BOOKED, S.IN_TREATMENT, S.RETURNED)[: nth % 4]
        if not steps:
            story.close(staff, "booked")
            return
        admission = story.at.date() + timedelta(days=21 - 14 * len(steps))
        for kind, day in ((LegKind.ADMISSION, admission), (LegKind.PROCEDURE, admission + timedelta(days=1)),
                          (LegKind.DISCHARGE, admission + timedelta(days=5))):
            leg = TripLeg(case_id=story.case.id, kind=kind.value, details={}, on_date=day, uid=trip.new_uid(),
                          sequence=0, created_at=story.at, updated_at=story.at)
            self.session.add(leg)
            story.event(Actor.user(staff), EventKind.LEG_ADDED, leg=leg.kind, leg_label=trip.KIND_LABELS[kind],
                        uid=leg.uid, sequence=0, summary=day.isoformat())
        for step in steps:
            story.later(24, 72)
            story.status(step, Actor.user(staff))
            story.staff_acted()

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
        may_compare = self._may_compare(plan)
        story.later(0.02, 0.1)
        refs = story.route()
        if not refs:
            return  # routing found no clinic: the case needs attention, as it would
        compare = may_compare and len(refs) >= 2
        if compare:
            self.compare = case
        self._clinics_answer(story, refs, plan, compare)
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
            if not story.route(actor=Actor.user(staff)):
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
            if nth % 2 == 0:  # the patient chose on the status page; the coordinator followed up
                story.choose(accepted[0])
                story.later(1, 24)
                story.release_contact(staff, accepted[0])
            else:  # the patient told the coordinator, who recorded the choice
                story.release_contact(staff, accepted[0])
                story.later(1, 24)
                story.choose(accepted[0], staff)
            if plan == "booked":
                story.later(48, 110)
                self._travel(story, staff, nth)


def _twin_reference(case: Case, session: Session) -> str:
    twin = session.scalar(
        select(Case.reference).where(Case.email == case.email, Case.id != case.id, Case.source == DEMO_SOURCE)
        .order_by(Case.id.desc())
    )
    return twin or "the earlier request"


def busiest_clinic(session: Session) -> Clinic | None:
    """The clinic with the most demo referrals waiting for its answer on cases the
    patient can still choose for (ties by slug), or None when none waits."""
    waiting = func.count(Referral.id)
    clinic_id = session.scalar(
        select(Clinic.id).join(Referral, Referral.clinic_id == Clinic.id).join(Case, Case.id == Referral.case_id)
        .where(Case.source == DEMO_SOURCE, Case.status.in_(sorted(quotes.CHOOSABLE)),
               Referral.status == ReferralStatus.PENDING)
        .group_by(Clinic.id, Clinic.slug).order_by(waiting.desc(), Clinic.slug).limit(1)
    )
    return None if clinic_id is None else session.get(Clinic, clinic_id)


def seed(session: Session, *, password: str, now: datetime, top_n: int = 3, rng: random.Random | None = None) -> SeedReport:
    """Create the demo users (those missing) and, unless demo cases exist, the cases;
    the clinic account belongs to the clinic with the most referrals waiting. Flushes;
    the caller commits."""
    if session.scalar(select(func.count(ClinicTreatment.id))) == 0:
        raise DemoError("The catalogue is empty: load it first with `flask --app wsgi catalog load data/catalog.json`.")
    rng = rng or random.Random(4)
    report = SeedReport()
    coordinator = _ensure_user(session, COORDINATOR_EMAIL, COORDINATOR, password, report, full_name="Elena Hoffmann")
    admin = _ensure_user(session, ADMIN_EMAIL, ADMIN, password, report, full_name="Jonas Weber")
    report.existing_cases = demo_case_count(session)
    if not report.existing_cases:
        seeder = _Seeder(session, rng, now, top_n, coordinator, admin)
        for plan, created_at in _arrivals(now, rng):
            case, token = seeder.new_case(plan, created_at)
            seeder.tell(plan, case)
            report.cases.append(case)
            if report.patient_view is None and case.status == S.AWAITING_PATIENT:
                report.patient_view = (case, token)
            if case is seeder.compare:
                report.compare_view = (case, token)
        session.flush()
        report.documents = record_paperwork(session, report.cases)
    clinic_user = session.scalar(select(User).where(User.email == CLINIC_EMAIL))
    if clinic_user is not None:
        report.existing_users.append(CLINIC_EMAIL)
    elif (clinic := busiest_clinic(session)) is not None:
        clinic_user = _ensure_user(session, CLINIC_EMAIL, CLINIC, password, report, clinic=clinic,
                                   full_name="Ayşe Demir")
    report.clinic_user = clinic_user if clinic_user is not None and clinic_user.role == CLINIC else None
    if report.created_users:
        report.password = password
    session.flush()
    return report


def record_paperwork(session: Session, cases: list[Case]) -> int:
    """Record the document jobs the real flows would have recorded for `cases`, in their
    state now: every case's confirmation (intake), every referral's dossier (routing),
    the quote comparison where a clinic quoted, the booking summary and visa letter where
    a quote was chosen. Each job renders the case as it is, so one of each is enough.
    Every referred clinic was told of its referral when it was made, and every patient
    who chose of their booking documents: the ledger says so (sent then), so the
    follow-ups (`notify_clinic`, the booking e-mail) write to nobody. Returns
    how many jobs were recorded."""
    ids = [case.id for case in cases]
    by_case: dict[int, list[Referral]] = {case_id: [] for case_id in ids}
    for referral in session.scalars(select(Referral).where(Referral.case_id.in_(ids)).order_by(Referral.id)):
        by_case[referral.case_id].append(referral)
    recorded = 0
    for case in cases:
        jobs: list[tuple[Job, dict[str, int]]] = [(Job.RENDER_CONFIRMATION, {})]
        for referral in by_case[case.id]:
            jobs.append((Job.RENDER_DOSSIER, {"referral_id": referral.id}))
            session.add(Notification(
                case_id=case.id, referral_id=referral.id, kind=CLINIC_REFERRAL, recipient=referral.clinic.email,
                status=SENT, created_at=referral.created_at, sent_at=referral.created_at,
            ))
        if any(referral.quotes for referral in by_case[case.id]):
            jobs.append((Job.RENDER_QUOTE_COMPARISON, {}))
        if case.chosen_quote is not None:
            jobs += [(Job.RENDER_BOOKING_SUMMARY, {}), (Job.RENDER_VISA_LETTER, {})]
            # The patient was told of their booking documents when the story chose.
            session.add(Notification(
                case_id=case.id, referral_id=None, recipient=case.email, status=SENT,
                kind=patient_mail.ledger_kind(patient_mail.PatientEvent.BOOKING_DOCUMENTS, ref=case.chosen_quote_id),
                created_at=case.updated_at, sent_at=case.updated_at,
            ))
        for job, payload in jobs:
            record(job, case_id=case.id, **payload)
        recorded += len(jobs)
    return recorded


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
