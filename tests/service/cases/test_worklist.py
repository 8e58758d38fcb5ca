"""The triage queue's query functions on both databases: every filter, search,
sort, pagination (in SQL, so the overdue filter pages exactly), counts per status
and the export rows."""
from __future__ import annotations

from dataclasses import replace

import pytest

from service.cases import worklist
from service.cases.worklist import QueueFilters
from service.cases.status import CaseStatus
from service.extensions import db
from tests.fixtures.staff import make_user
from tests.fixtures.cases import NOW, hours, make_case, treatment
from tests.fixtures.referrals import make_referral


def refs(filters: QueueFilters, user_id: int = 0, per_page: int = worklist.PER_PAGE) -> list[str]:
    db.session.flush()
    result = worklist.page(db.session, filters, user_id=user_id, now=NOW, per_page=per_page)
    return [row.case.reference for row in result.rows]


def test_the_default_shows_open_cases_newest_first(db_session):
    old = make_case(age=hours(5), first_response_at=NOW)
    new = make_case(age=hours(1), first_response_at=NOW)
    make_case(age=hours(3), status=CaseStatus.CLOSED, closed_reason="spam")
    assert refs(QueueFilters()) == [new.reference, old.reference]


def test_status_filters(db_session):
    submitted = make_case()
    routed = make_case(status=CaseStatus.ROUTED)
    closed = make_case(status=CaseStatus.CLOSED, closed_reason="booked")
    assert refs(QueueFilters(status="routed")) == [routed.reference]
    assert refs(QueueFilters(status="closed")) == [closed.reference]
    assert set(refs(QueueFilters(status=worklist.ALL))) == {submitted.reference, routed.reference, closed.reference}


def test_treatment_country_and_clinic_filters(db_session):
    knee = make_case(treatment=treatment("knee-replacement"), country="DE")
    other = make_case(country="KZ")
    referred = make_case(country="DE")
    make_referral(referred, age=hours(1), clinic="spree-limb-clinic-berlin")
    make_referral(other, age=hours(1), clinic="bosphorus-ortho-istanbul")
    assert refs(QueueFilters(treatment="knee-replacement")) == [knee.reference]
    assert set(refs(QueueFilters(country="DE"))) == {knee.reference, referred.reference}
    assert refs(QueueFilters(clinic="spree-limb-clinic-berlin")) == [referred.reference]
    assert refs(QueueFilters(country="DE", clinic="bosphorus-ortho-istanbul")) == []


def test_assignee_filters(db_session):
    me, colleague = make_user(), make_user()
    mine = make_case(assignee=me)
    theirs = make_case(assignee=colleague)
    nobodys = make_case()
    assert refs(QueueFilters(assignee=worklist.MINE), user_id=me.id) == [mine.reference]
    assert refs(QueueFilters(assignee=worklist.UNASSIGNED), user_id=me.id) == [nobodys.reference]
    assert refs(QueueFilters(assignee=str(colleague.id)), user_id=me.id) == [theirs.reference]


def test_the_overdue_filter_is_exact_across_pages(db_session):
    overdue = {make_case(age=hours(30 + i)).reference for i in range(7)}
    for i in range(9):
        make_case(age=hours(2 + i))
    first = refs(QueueFilters(overdue=True), per_page=5)
    second = refs(QueueFilters(overdue=True, page=2), per_page=5)
    assert len(first) == 5 and len(second) == 2
    assert set(first + second) == overdue
    result = worklist.page(db.session, QueueFilters(overdue=True), user_id=0, now=NOW)
    assert result.total == 7 and all(row.overdue for row in result.rows)


def test_search_by_reference_name_or_email_ignores_case(db_session):
    wanted = make_case(full_name="Амина Петрова", email="amina.p@example.org")
    other = make_case(full_name="Someone Else", email="else@example.org")
    for term in ("петрова", "ПЕТРОВА", "Amina.P@EXAMPLE", wanted.reference.lower(), f"  {wanted.reference}  "):
        assert refs(QueueFilters(search=term)) == [wanted.reference], term
    assert set(refs(QueueFilters(search="example.org"))) == {wanted.reference, other.reference}


def test_search_treats_wildcards_as_text(db_session):
    make_case(full_name="Plain Name")
    percent = make_case(full_name="100% Real")
    assert refs(QueueFilters(search="%")) == [percent.reference]
    assert refs(QueueFilters(search="_")) == []


def test_sorts(db_session):
    low = make_case(age=hours(3), priority="low", first_response_at=NOW)
    urgent = make_case(age=hours(1), priority="urgent", first_response_at=NOW)
    high = make_case(age=hours(2), priority="high")  # first response due in 22 h
    routed = make_case(age=hours(4), status=CaseStatus.ROUTED, first_response_at=NOW)
    make_referral(routed, age=hours(70))  # clinic answer due in 2 h
    assert refs(QueueFilters(sort="newest")) == [urgent.reference, high.reference, low.reference, routed.reference]
    assert refs(QueueFilters(sort="oldest")) == [routed.reference, low.reference, high.reference, urgent.reference]
    assert refs(QueueFilters(sort="priority"))[:2] == [urgent.reference, high.reference]
    assert refs(QueueFilters(sort="priority"))[-1] == low.reference
    # Soonest deadline first; cases with no running clock last.
    assert refs(QueueFilters(sort="due"))[:2] == [routed.reference, high.reference]


def test_pagination(db_session):
    for i in range(worklist.PER_PAGE * 2 + 3):
        make_case(age=hours(i), first_response_at=NOW)
    first = worklist.page(db.session, QueueFilters(), user_id=0, now=NOW)
    third = worklist.page(db.session, QueueFilters(page=3), user_id=0, now=NOW)
    beyond = worklist.page(db.session, QueueFilters(page=99), user_id=0, now=NOW)
    assert (first.total, first.pages, first.first_index, first.last_index) == (53, 3, 1, 25)
    assert (len(third.rows), third.first_index, third.last_index) == (3, 51, 53)
    assert beyond.page == 3 and [r.case.id for r in beyond.rows] == [r.case.id for r in third.rows]
    ids = [r.case.id for p in (1, 2, 3) for r in worklist.page(db.session, QueueFilters(page=p), user_id=0, now=NOW).rows]
    assert len(ids) == len(set(ids)) == 53


@pytest.mark.parametrize("sort", list(worklist.SORTS))
def test_pages_read_from_the_far_end_are_the_same_rows_in_the_same_order(db_session, sort):
    """Pages in the second half are read in the reverse order (no growing offset); page
    by page, the queue is still exactly the one ordered list, NULL deadlines last."""
    priorities = ("low", "normal", "high", "urgent")
    for i in range(23):
        fields = {"first_response_at": NOW} if i % 3 else {}  # every third has a running clock
        if i % 7 == 0:
            fields["sla_paused_since"] = NOW - hours(i)
        make_case(age=hours(i % 11), priority=priorities[i % 4], **fields)
    whole = [r.case.id for r in worklist.page(db.session, QueueFilters(sort=sort), user_id=0, now=NOW, per_page=100).rows]
    paged = [r.case.id for p in range(1, 6)
             for r in worklist.page(db.session, QueueFilters(sort=sort, page=p), user_id=0, now=NOW, per_page=5).rows]
    assert paged == whole and len(whole) == 23


def test_page_links_show_first_last_and_a_window(db_session):
    page = worklist.QueuePage(rows=[], total=20 * worklist.PER_PAGE, page=10)
    assert page.page_numbers() == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert worklist.QueuePage(rows=[], total=3 * worklist.PER_PAGE, page=1).page_numbers() == [1, 2, 3]
    empty = worklist.QueuePage(rows=[], total=0, page=1)
    assert (empty.pages, empty.first_index, empty.last_index) == (1, 0, 0)


def test_counts_per_status_keep_the_other_filters(db_session):
    me = make_user()
    make_case(assignee=me)
    make_case(assignee=me, status=CaseStatus.ROUTED)
    make_case(assignee=me, status=CaseStatus.CLOSED, closed_reason="spam")
    make_case(status=CaseStatus.ROUTED)
    db.session.flush()
    counts = worklist.status_counts(db.session, QueueFilters(status="routed", assignee=worklist.MINE), user_id=me.id, now=NOW)
    assert counts.by_status == {"submitted": 1, "routed": 1, "closed": 1}
    assert (counts.count(worklist.OPEN), counts.count(worklist.ALL), counts.count("chosen")) == (2, 3, 0)


def test_any_cases(db_session):
    assert not worklist.any_cases(db.session)
    make_case()
    assert worklist.any_cases(db.session)


def test_export_rows_cover_every_page_in_queue_order(db_session):
    me = make_user()
    for i in range(worklist.PER_PAGE + 5):
        make_case(age=hours(i), first_response_at=NOW, assignee=me)
    late = make_case(age=hours(40), full_name="Late Patient", email="late@example.org")
    db.session.flush()
    rows = list(worklist.export_rows(db.session, QueueFilters(), user_id=me.id, now=NOW, batch=7))
    assert len(rows) == worklist.PER_PAGE + 6
    header = dict(zip(worklist.EXPORT_COLUMNS, rows[-1]))
    assert header["reference"] == late.reference and header["overdue"] is True
    assert header["patient name"] == "Late Patient" and header["email"] == "late@example.org"
    assert header["assignee"] is None and header["treatment"] == "osseointegrated-prosthesis-transfemoral"
    assert dict(zip(worklist.EXPORT_COLUMNS, rows[0]))["assignee"] == me.email
    only_late = list(worklist.export_rows(db.session, QueueFilters(overdue=True), user_id=me.id, now=NOW))
    assert [r[0] for r in only_late] == [late.reference]


def test_filters_without_status(db_session):
    filters = QueueFilters(status="routed", country="DE")
    assert filters.without_status() == replace(filters, status=worklist.ALL)
