"""Clinics told where they stand once the patient (or staff for them) chose: the chosen
clinic gets "chosen: next steps", every other clinic that quoted "not chosen", each
once, from the real SMTP sink; a not-chosen quote can no longer be revised."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from service.cases import clinic_outcome, quotes, workflow
from service.cases.status import ReferralState
from service.extensions import db
from service.models import Notification, Referral
from service.outbox import Job
from tests.fixtures.cases import rows
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.quoting import Quoted, terms
from tests.fixtures.smtp import text_of
from tests.fixtures.staff import make_user

DESCRIPTION = "Left thigh amputation in 2019; socket pain when walking."


class Quoting(Quoted):
    """A routed case referred to three clinics: two quoted, one has not answered."""

    def __init__(self) -> None:
        super().__init__(silent=1, description=DESCRIPTION)

    @property
    def silent(self) -> Referral:
        return self.referrals[2]


@pytest.fixture
def quoting(db_session) -> Quoting:
    return Quoting()


@pytest.fixture
def mail(app, smtp_server, smtp_url, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", smtp_url)
    return smtp_server


def messages_to(mailbox, address: str):
    return [m for e, m in zip(mailbox.envelopes, mailbox.messages()) if address in e.rcpt_tos]


def test_the_patients_choice_tells_each_clinic_that_quoted_once(app_ctx, quoting, mail):
    quotes.choose(quoting.case, quoting.quotes[0].id)
    db.session.commit()
    outcome_rows = rows(quoting.case, Job.NOTIFY_CLINIC_OUTCOME)
    assert sorted(r.payload["referral_id"] for r in outcome_rows) == [quoting.chosen.id, quoting.other.id]

    assert run_pending(Job.NOTIFY_CLINIC_OUTCOME) == 2
    for referral in (quoting.chosen, quoting.other):  # the job run again sends nothing
        assert clinic_outcome.notify(referral) is False

    [chosen] = messages_to(mail, quoting.chosen.clinic.email)
    [other] = messages_to(mail, quoting.other.clinic.email)
    assert messages_to(mail, quoting.silent.clinic.email) == []
    assert len(mail.envelopes) == 2
    reference = quoting.case.reference
    assert chosen["Subject"] == f"Medtour: the patient chose your clinic ({reference})"
    chosen_text = text_of(chosen)
    assert "What happens next" in chosen_text and "booking summary" in chosen_text
    assert "contact details appear on the referral" in chosen_text
    assert f"/clinic/referrals/{quoting.chosen.id}" in chosen_text
    assert other["Subject"] == f"Medtour: the patient chose another clinic ({reference})"
    other_text = text_of(other)
    assert '"Not chosen"' in other_text and "can no longer be revised" in other_text
    assert f"/clinic/referrals/{quoting.other.id}" in other_text
    for message in (chosen, other):
        text = text_of(message)
        assert "socket pain" not in text and quoting.case.treatment.name not in text
        assert quoting.case.full_name not in text
        assert message["Auto-Submitted"] == "auto-generated"
    kinds = set(db.session.scalars(select(Notification.kind).where(Notification.case_id == quoting.case.id)))
    assert kinds == {f"clinic_chosen:{quoting.chosen.id}", f"clinic_not_chosen:{quoting.other.id}"}


def test_a_choice_staff_record_tells_the_clinics_too(app_ctx, quoting, mail):
    workflow.perform(quoting.case, "record_choice", make_user(), referral_id=quoting.other.id)
    db.session.commit()
    assert run_pending(Job.NOTIFY_CLINIC_OUTCOME) == 2
    assert "chose your clinic" in messages_to(mail, quoting.other.clinic.email)[0]["Subject"]
    assert "chose another clinic" in messages_to(mail, quoting.chosen.clinic.email)[0]["Subject"]


def test_the_referral_state_reads_chosen_and_not_chosen(app_ctx, quoting):
    assert [r.state for r in quoting.referrals] == [ReferralState.ACCEPTED, ReferralState.ACCEPTED, ReferralState.PENDING]
    quotes.choose(quoting.case, quoting.quotes[0].id)
    db.session.flush()
    assert [r.state for r in quoting.referrals] == [ReferralState.CHOSEN, ReferralState.NOT_CHOSEN, ReferralState.PENDING]
    assert ReferralState.NOT_CHOSEN.staff_label == "Not chosen"


def test_a_clinic_not_chosen_cannot_revise_its_quote(app_ctx, quoting):
    quotes.choose(quoting.case, quoting.quotes[0].id)
    db.session.flush()
    with pytest.raises(quotes.QuoteRefused, match="chose another clinic"):
        quotes.revise(quoting.other, terms("9000"), quoting.users[1])
    # The chosen clinic still can: the patient accepts the revision or not.
    revised = quotes.revise(quoting.chosen, terms("12000"), quoting.users[0])
    assert revised.version == 2


def test_a_clinic_that_quotes_after_the_choice_is_told_at_once(app_ctx, quoting, mail):
    quotes.choose(quoting.case, quoting.quotes[0].id)
    db.session.commit()
    run_pending(Job.NOTIFY_CLINIC_OUTCOME)
    quotes.accept(quoting.silent, terms("8000"), quoting.users[2])
    db.session.commit()
    assert quoting.silent.state == ReferralState.NOT_CHOSEN
    assert run_pending(Job.NOTIFY_CLINIC_OUTCOME) == 1
    [late] = messages_to(mail, quoting.silent.clinic.email)
    assert "chose another clinic" in late["Subject"]
    assert len(mail.envelopes) == 3


def test_accepting_the_chosen_clinics_revision_sends_nothing_new(app_ctx, quoting, mail):
    quotes.choose(quoting.case, quoting.quotes[0].id)
    db.session.commit()
    run_pending(Job.NOTIFY_CLINIC_OUTCOME)
    revised = quotes.revise(quoting.chosen, terms("12000"), quoting.users[0])
    quotes.accept_revision(quoting.case, revised.id)
    db.session.commit()
    run_pending(Job.NOTIFY_CLINIC_OUTCOME)
    assert len(mail.envelopes) == 2


def test_nothing_is_sent_on_an_erased_case(app_ctx, quoting, mail):
    quotes.choose(quoting.case, quoting.quotes[0].id)
    quoting.case.erased_at = datetime.now(timezone.utc)
    db.session.commit()
    run_pending(Job.NOTIFY_CLINIC_OUTCOME)
    assert mail.envelopes == []
