"""The staff pages send as many SQL statements for 30 cases as for 5, and the queue's
cursor pages (Next, Previous) as many for 130 as for 55: nothing is loaded per case
(bench/scale.py times them at 100,000; statement counts are exact, timings are not)."""
from __future__ import annotations

import html
import itertools
import re
from datetime import datetime, timedelta, timezone

from service.cases import worklist
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import PatientQuestion
from tests.fixtures.cases import hours, make_case, treatment
from tests.fixtures.referrals import make_referral
from tests.fixtures.statements import recorded_statements

_kinds = itertools.count()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def add_cases(n: int) -> None:
    """`n` cases of every kind the queue shows: new and overdue, routed with clinics
    answering or late, waiting on the patient, chosen, closed."""
    clinics = ("bosphorus-ortho-istanbul", "spree-limb-clinic-berlin", "anatolia-smile-antalya")
    for _ in range(n):
        kind = next(_kinds) % 5
        age = hours(2 + 7 * kind)
        if kind == 0:
            make_case(age=hours(30), now=_now())  # overdue: nobody responded
        elif kind == 1:
            case = make_case(age=age, now=_now(), status=CaseStatus.ROUTED, first_response_at=_now() - hours(1),
                             treatment=treatment("knee-replacement"))
            make_referral(case, clinics[0], age=hours(80), now=_now())
            make_referral(case, clinics[1], age=hours(3), now=_now(), status=ReferralStatus.ACCEPTED,
                          responded_at=_now() - hours(1))
        elif kind == 2:
            case = make_case(age=age, now=_now(), status=CaseStatus.AWAITING_PATIENT,
                             first_response_at=_now() - hours(1), sla_paused_since=_now() - hours(1))
            db.session.add(PatientQuestion(case=case, question="Which knee?", resume_status=CaseStatus.SUBMITTED))
        elif kind == 3:
            make_case(age=age, now=_now(), status=CaseStatus.CHOSEN, first_response_at=_now() - hours(1),
                      country="GB")
        else:
            make_case(age=age, now=_now(), status=CaseStatus.CLOSED, closed_reason="spam",
                      first_response_at=_now() - hours(1))
    db.session.commit()


def queue_views() -> list[str]:
    today = _now().date()
    views = [f"/staff/cases?status={s}" for s in ("open", "all", *(s.value for s in CaseStatus))]
    return views + [
        "/staff/cases?q=patient", "/staff/cases?treatment=knee-replacement", "/staff/cases?country=GB",
        "/staff/cases?clinic=bosphorus-ortho-istanbul", "/staff/cases?assignee=unassigned",
        "/staff/cases?overdue=y", "/staff/cases?sort=due", "/staff/cases?sort=due&page=999",
        "/staff/cases?status=all&page=999", "/staff/cases?sort=priority&page=2", "/staff/cases.csv?status=all",
        f"/staff/dashboard?from={today - timedelta(days=29)}&to={today}",
        f"/staff/dashboard?from={today - timedelta(days=365)}&to={today}",
    ]


def statement_counts(client) -> dict[str, int]:
    counts = {}
    for path in queue_views():
        client.get(path)  # what a first visit caches (the catalogue) is not the question
        with recorded_statements(db.engine) as sent:
            response = client.get(path)
            response.get_data()
        assert response.status_code == 200, (path, response.status_code)
        counts[path] = len(sent)
    return counts


def test_queue_views_and_dashboard_send_the_same_statements_for_5_and_30_cases(staff_client):
    add_cases(5)
    few = statement_counts(staff_client)
    add_cases(25)
    many = statement_counts(staff_client)
    assert many == few


def _href(client, path: str, rel: str) -> str:
    text = client.get(path).get_data(as_text=True)
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', text)
    assert found, (path, rel)
    return html.unescape(found.group(1))


def cursor_views(client) -> list[str]:
    """Pages reached by Next and Previous (keyset cursors) on every sort, each on a page
    with more pages either side at both sizes, and cursors that are refused."""
    views = []
    for sort in worklist.SORTS:
        start = f"/staff/cases?status=all&sort={sort}"
        second = _href(client, start, "next")
        third = _href(client, second, "next")
        views += [second, third, _href(client, f"{start}&page=3", "prev"), _href(client, third, "prev")]
    token = views[0].split("after=", 1)[1]
    return views + ["/staff/cases?status=all&after=" + token[:-3] + "xyz",  # tampered
                    "/staff/cases?status=all&sort=oldest&after=" + token]  # another sort's


def test_cursor_pages_send_the_same_statements_for_55_and_130_cases(staff_client):
    """At least three pages at both sizes, so each cursor lands where it does at scale."""
    add_cases(55)
    few = {n: count for n, count in enumerate(_counts(staff_client, cursor_views(staff_client)))}
    add_cases(75)
    many = {n: count for n, count in enumerate(_counts(staff_client, cursor_views(staff_client)))}
    assert many == few


def _counts(client, paths: list[str]) -> list[int]:
    counts = []
    for path in paths:
        client.get(path)
        with recorded_statements(db.engine) as sent:
            response = client.get(path)
            response.get_data()
        assert response.status_code == 200, (path, response.status_code)
        counts.append(len(sent))
    return counts
