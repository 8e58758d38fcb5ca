"""Where a clinic stands after the patient chose, as the pages show it: the patient
chooses on the status page, the other clinic's portal (list and referral page) reads
"Not chosen" with no revise action (the revise POST is refused too), the chosen one
"Chosen by the patient", and the staff case file shows both."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from service.cases.tokens import new_token
from service.extensions import db
from service.models import OutboxMessage, Referral, User
from service.outbox import Job
from tests.fixtures.quoting import Quoted
from tests.fixtures.staff import make_user, sign_in
from tests.service.blueprints.clinic_referrals import quote_form


class Chosen(Quoted):
    """A routed case, two clinics quoted, and the patient chose the first on the status page."""

    def __init__(self, client) -> None:
        token, digest = new_token()
        super().__init__(token_hash=digest, date_of_birth=date(1980, 1, 1))
        response = client.post(f"/s/{token}/quotes/{self.quotes[0].id}/choose")
        assert response.status_code == 303, response.text
        db.session.expire_all()


@pytest.fixture
def chosen(client) -> Chosen:
    return Chosen(client)


def portal(client, user: User, referral: Referral) -> tuple[str, str]:
    """What `user` sees in the clinic portal: the referral list and `referral`'s page."""
    sign_in(client, user)
    return client.get("/clinic/referrals").text, client.get(f"/clinic/referrals/{referral.id}").text


def test_the_patients_choice_on_the_status_page_records_one_outcome_per_clinic_that_quoted(chosen):
    outcome = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.case_id == chosen.case.id,
                                    OutboxMessage.job == Job.NOTIFY_CLINIC_OUTCOME.value)
    ).all()
    assert sorted(m.payload["referral_id"] for m in outcome) == sorted(r.id for r in chosen.referrals)


def test_the_clinic_not_chosen_sees_it_in_the_list_and_on_the_referral(client, chosen):
    listing, page = portal(client, chosen.users[1], chosen.other)
    assert '<span class="badge referral-not_chosen">Not chosen</span>' in listing
    assert '<span class="badge referral-not_chosen" id="referral-status">Not chosen</span>' in page
    assert 'id="not-chosen"' in page and "The patient chose another clinic" in page
    assert f'action="/clinic/referrals/{chosen.other.id}/revise"' not in page
    assert "Revise your quote" not in page
    assert f'action="/clinic/referrals/{chosen.other.id}/ask"' in page  # it may still ask the agency


def test_the_revise_post_of_a_clinic_not_chosen_is_refused(client, chosen):
    sign_in(client, chosen.users[1])
    response = client.post(f"/clinic/referrals/{chosen.other.id}/revise", data=quote_form(price="8000"))
    assert response.status_code == 422
    assert "this quote can no longer be revised" in response.text
    db.session.expire_all()
    assert [q.version for q in db.session.get(Referral, chosen.other.id).quotes] == [1]


def test_the_chosen_clinic_sees_it_and_may_still_revise(client, chosen):
    listing, page = portal(client, chosen.users[0], chosen.chosen)
    assert '<span class="badge referral-chosen">Chosen by the patient</span>' in listing
    assert 'id="referral-status">Chosen by the patient</span>' in page
    assert f'action="/clinic/referrals/{chosen.chosen.id}/revise"' in page
    assert 'id="not-chosen"' not in page


def test_the_staff_case_file_shows_chosen_and_not_chosen(client, chosen):
    sign_in(client, make_user())
    page = client.get(f"/staff/cases/{chosen.case.reference}").text
    assert '<span class="badge referral-chosen">Chosen</span>' in page
    assert '<span class="badge referral-not_chosen">Not chosen</span>' in page
