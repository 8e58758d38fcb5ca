"""The triage queue's query functions on both databases: every filter, search,
sort, pagination (in SQL, so the overdue filter pages exactly), counts per status
and the export rows."""
from __future__ import annotations

import re
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


# ---------------------------------------------------------------- keyset (cursor) paging

SECRET = "test-secret-key"


def varied_cases(n: int = 23) -> None:
    """Ties on created_at (so the id decides), every priority, running, stopped (NULL
    deadline) and paused clocks."""
    priorities = ("low", "normal", "high", "urgent")
    for i in range(n):
        fields = {"first_response_at": NOW} if i % 3 else {}  # every third has a running clock
        if i % 7 == 0:
            fields["sla_paused_since"] = NOW - hours(i)
        make_case(age=hours(i % 11), priority=priorities[i % 4], **fields)
    db.session.flush()


def by_number(sort: str, per_page: int) -> list[list[int]]:
    first = worklist.page(db.session, QueueFilters(sort=sort), user_id=0, now=NOW, per_page=per_page)
    return [[r.case.id for r in worklist.page(db.session, QueueFilters(sort=sort, page=p), user_id=0, now=NOW,
                                              per_page=per_page).rows]
            for p in range(1, first.pages + 1)]


@pytest.mark.parametrize("sort", list(worklist.SORTS))
def test_stepping_after_the_last_row_is_offset_paging_row_for_row(db_session, sort):
    varied_cases()
    expected = by_number(sort, per_page=5)
    result = worklist.page(db.session, QueueFilters(sort=sort), user_id=0, now=NOW, per_page=5)
    stepped, numbers, ranges = [[r.case.id for r in result.rows]], [result.page], [(result.first_index, result.last_index)]
    while result.has_next:
        # Through the URL form, as the Next link carries it.
        after = worklist.read_cursor(worklist.cursor_token(result.last_position, SECRET), SECRET, sort=sort)
        result = worklist.page(db.session, QueueFilters(sort=sort), user_id=0, now=NOW, per_page=5, after=after)
        stepped.append([r.case.id for r in result.rows])
        numbers.append(result.page)
        ranges.append((result.first_index, result.last_index))
    assert stepped == expected and len(expected) == 5
    assert numbers == [1, 2, 3, 4, 5]
    assert ranges == [(1, 5), (6, 10), (11, 15), (16, 20), (21, 23)]
    assert result.total == 23 and not result.has_next and result.has_previous


@pytest.mark.parametrize("sort", list(worklist.SORTS))
def test_stepping_before_the_first_row_walks_back_the_same_pages(db_session, sort):
    varied_cases()
    expected = by_number(sort, per_page=5)
    result = worklist.page(db.session, QueueFilters(sort=sort, page=5), user_id=0, now=NOW, per_page=5)
    stepped, numbers = [[r.case.id for r in result.rows]], [result.page]
    while result.has_previous:
        before = worklist.read_cursor(worklist.cursor_token(result.first_position, SECRET), SECRET, sort=sort)
        result = worklist.page(db.session, QueueFilters(sort=sort), user_id=0, now=NOW, per_page=5, before=before)
        stepped.append([r.case.id for r in result.rows])
        numbers.append(result.page)
    assert stepped[::-1] == expected
    assert numbers == [5, 4, 3, 2, 1] and result.first_index == 1


def test_the_due_order_is_taken_as_of_the_first_page_so_a_paused_clock_does_not_repeat(db_session):
    """A paused case's deadline moves with the clock; the next page, read later, still
    continues the order the first page was read in."""
    paused = make_case(age=hours(23), sla_paused_since=NOW - hours(1))  # due in 2 h while paused
    running = make_case(age=hours(20))  # due in 4 h
    db.session.flush()
    first = worklist.page(db.session, QueueFilters(sort="due"), user_id=0, now=NOW, per_page=1)
    assert [r.case.id for r in first.rows] == [paused.id]
    later = NOW + hours(3)  # the pause now pushes its deadline past the running one's
    second = worklist.page(db.session, QueueFilters(sort="due"), user_id=0, now=later, per_page=1,
                           after=first.last_position)
    assert [r.case.id for r in second.rows] == [running.id]
    assert (second.first_index, second.has_next) == (2, False)


def test_the_position_is_counted_so_cases_added_above_shift_the_numbers(db_session):
    for i in range(12):
        make_case(age=hours(i + 1), first_response_at=NOW)
    first = worklist.page(db.session, QueueFilters(), user_id=0, now=NOW, per_page=5)
    expected = [r.case.id for r in worklist.page(db.session, QueueFilters(page=2), user_id=0, now=NOW, per_page=5).rows]
    make_case(age=hours(0), first_response_at=NOW)
    make_case(age=hours(0), first_response_at=NOW)
    db.session.flush()
    second = worklist.page(db.session, QueueFilters(), user_id=0, now=NOW, per_page=5, after=first.last_position)
    assert [r.case.id for r in second.rows] == expected  # the rows after the one shown last, none repeated
    assert (second.first_index, second.last_index, second.total, second.page) == (8, 12, 14, 2)


def test_a_cursor_that_ran_out_of_rows_shows_the_nearest_end(db_session):
    for i in range(7):
        make_case(age=hours(i + 1), first_response_at=NOW)
    last = worklist.page(db.session, QueueFilters(page=2), user_id=0, now=NOW, per_page=5)
    first = worklist.page(db.session, QueueFilters(), user_id=0, now=NOW, per_page=5)
    beyond_end = worklist.page(db.session, QueueFilters(), user_id=0, now=NOW, per_page=5, after=last.last_position)
    assert [r.case.id for r in beyond_end.rows] == [r.case.id for r in last.rows] and beyond_end.page == 2
    before_start = worklist.page(db.session, QueueFilters(), user_id=0, now=NOW, per_page=5, before=last.first_position)
    assert [r.case.id for r in before_start.rows] == [r.case.id for r in first.rows]
    short = worklist.page(db.session, QueueFilters(), user_id=0, now=NOW, per_page=5, before=first.last_position)
    assert [r.case.id for r in short.rows] == [r.case.id for r in first.rows] and short.page == 1


def test_a_tampered_malformed_or_foreign_cursor_reads_as_none(db_session):
    varied_cases(6)
    result = worklist.page(db.session, QueueFilters(sort="due"), user_id=0, now=NOW, per_page=2)
    token = worklist.cursor_token(result.last_position, SECRET)
    assert worklist.read_cursor(token, SECRET, sort="due") == result.last_position
    payload, signature = token.rsplit(".", 1)
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    for bad in (flipped + "." + signature, token[:-2], "", "garbage", "a.b.c", token + "x"):
        assert worklist.read_cursor(bad, SECRET, sort="due") is None, bad
    assert worklist.read_cursor(token, "another-secret", sort="due") is None
    assert worklist.read_cursor(token, SECRET, sort="newest") is None
    from itsdangerous import URLSafeSerializer
    forge = URLSafeSerializer(SECRET, salt="staff-queue-cursor").dumps
    for shape in (["due", 0, [1.5]], ["due", 0, [1.5, "7"]], ["due", "x", [1.5, 7]], ["newest", 0, [None, 7]],
                  ["newest", 0, [1.5, 7]], ["nosuch", 0, [1, 2]], ["due", 0, [float("inf"), 7]], "due", 5):
        assert worklist.read_cursor(forge(shape), SECRET, sort=shape[0] if isinstance(shape, list) else "due") is None


def test_a_position_from_another_sort_is_ignored_for_page_1(db_session):
    varied_cases(8)
    newest = worklist.page(db.session, QueueFilters(), user_id=0, now=NOW, per_page=3)
    oldest = worklist.page(db.session, QueueFilters(sort="oldest", page=2), user_id=0, now=NOW, per_page=3,
                           after=newest.last_position)
    expected = worklist.page(db.session, QueueFilters(sort="oldest"), user_id=0, now=NOW, per_page=3)
    assert [r.case.id for r in oldest.rows] == [r.case.id for r in expected.rows] and oldest.page == 1


def offsets_sent(engine, work) -> list[int]:
    """The OFFSET of every statement `work` sends that has one (SQLite's compiler
    always writes one, 0 when none is asked for)."""
    from sqlalchemy import event

    found: list[int] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        match = re.search(r"OFFSET (\?|%\((\w+)\)s)", statement)
        if match:
            found.append(parameters[-1] if match.group(1) == "?" else parameters[match.group(2)])

    event.listen(engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return found


@pytest.mark.parametrize("sort", list(worklist.SORTS))
def test_cursor_pages_and_the_first_and_last_pages_send_no_offset(db_session, sort):
    varied_cases()
    first = worklist.page(db.session, QueueFilters(sort=sort), user_id=0, now=NOW, per_page=5)
    third = worklist.page(db.session, QueueFilters(sort=sort, page=3), user_id=0, now=NOW, per_page=5)
    engine = db.session.get_bind()
    for filters, kwargs in ((QueueFilters(sort=sort), {"after": first.last_position}),
                            (QueueFilters(sort=sort), {"before": third.first_position}),
                            (QueueFilters(sort=sort), {"after": third.last_position}),
                            (QueueFilters(sort=sort, page=5), {}), (QueueFilters(sort=sort), {})):
        sent = offsets_sent(engine, lambda: worklist.page(db.session, filters, user_id=0, now=NOW, per_page=5, **kwargs))
        assert not any(sent), (filters, kwargs, sent)
    # The numbered middle page still skips rows: 8 of 23, from the far end.
    assert offsets_sent(engine, lambda: worklist.page(db.session, QueueFilters(sort=sort, page=3), user_id=0, now=NOW,
                                                      per_page=5)) == [8]


def test_a_cursor_page_filters_at_the_time_it_is_read(db_session):
    """Only the order is taken as of the first page; "overdue" means overdue now."""
    a, b = make_case(age=hours(29)), make_case(age=hours(27))  # first response due 5 h and 3 h ago
    c = make_case(age=hours(23))  # due in 1 h
    db.session.flush()
    first = worklist.page(db.session, QueueFilters(sort="due", overdue=True), user_id=0, now=NOW, per_page=1)
    assert ([r.case.id for r in first.rows], first.total) == ([a.id], 2)
    later = NOW + hours(2)
    second = worklist.page(db.session, QueueFilters(sort="due", overdue=True), user_id=0, now=later, per_page=1,
                           after=first.last_position)
    assert ([r.case.id for r in second.rows], second.total, second.has_next) == ([b.id], 3, True)
    third = worklist.page(db.session, QueueFilters(sort="due", overdue=True), user_id=0, now=later, per_page=1,
                          after=second.last_position)
    assert ([r.case.id for r in third.rows], third.first_index, third.has_next) == ([c.id], 3, False)


def test_the_database_ranks_each_priority_from_the_one_list(db_session):
    """`cases.priority_rank` is computed by the database (0 = most urgent, as
    service.models.priority orders them) and follows a change of priority."""
    from sqlalchemy import text

    from service.models.priority import PRIORITIES

    cases = {p: make_case(priority=p) for p in PRIORITIES}
    db.session.flush()
    assert {p: c.priority_rank for p, c in cases.items()} == {"urgent": 0, "high": 1, "normal": 2, "low": 3}
    cases["low"].priority = "urgent"
    db.session.flush()
    assert cases["low"].priority_rank == 0
    db.session.execute(text("UPDATE cases SET priority = 'unheard-of' WHERE id = :id"), {"id": cases["high"].id})
    db.session.refresh(cases["high"])
    assert cases["high"].priority_rank == 2  # an unknown priority ranks as the default, "normal"


def plans_of_priority_statements(work) -> list[tuple[str, str]]:
    """Each statement `work` sends that reads the priority rank, with its query plan."""
    from sqlalchemy import event

    connection = db.session.connection()
    sent: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        sent.append((statement, parameters))

    event.listen(connection.engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(connection.engine, "before_cursor_execute", record)
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        # A handful of rows: make the planner show what it would do with many (no
        # table scan, no sort whenever an index can avoid it).
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
    explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    plans = []
    for statement, parameters in sent:
        if "priority_rank" in statement:
            rows = connection.exec_driver_sql(explain + statement, parameters).all()
            plans.append((statement, "\n".join(str(row[-1]) for row in rows)))
    return plans


@pytest.mark.parametrize("status", [worklist.ALL, worklist.OPEN])
def test_the_priority_pages_are_ranges_of_the_priority_index(db_session, status):
    """The first page and a Next page read the (priority_rank, created_at, id) index in
    order: no sort of every filtered case; the count of the rows before the Next page
    is a range of it. The open tab has an index of its own on PostgreSQL (partial: not
    closed); its count may as well read the status index (the open cases are few)."""
    if status == worklist.OPEN and db.session.get_bind().dialect.name == "sqlite":
        pytest.skip("SQLite uses a partial index only when the query repeats its WHERE: "
                    "it reads the open statuses from the status index and sorts them")
    varied_cases()
    make_case(status=CaseStatus.CLOSED, priority="urgent")
    db.session.flush()
    filters = QueueFilters(status=status, sort="priority")
    first = worklist.page(db.session, filters, user_id=0, now=NOW, per_page=5)
    plans = plans_of_priority_statements(lambda: (
        worklist.page(db.session, filters, user_id=0, now=NOW, per_page=5),
        worklist.page(db.session, filters, user_id=0, now=NOW, per_page=5, after=first.last_position),
    ))
    assert len(plans) == 3, plans  # the first page's rows; the next page's rows and its place
    postgres = db.session.get_bind().dialect.name == "postgresql"
    # The open tab: the partial index, or the whole one with the other statuses filtered
    # out, as the planner judges the table (both are read in order; neither sorts).
    index = ("ix_cases_(open_)?priority_rank_created_at_id" if postgres and status == worklist.OPEN
             else "ix_cases_priority_rank_created_at_id")
    for statement, plan in plans:
        assert ("Sort" not in plan) if postgres else ("TEMP B-TREE" not in plan), plan
        if "ORDER BY" in statement or status == worklist.ALL:
            assert re.search(rf"\b{index}\b", plan), plan
