"""The triage queue page and its CSV export: sign-in required, filters in the query
string, search, pagination, counts per status, empty states, overdue rows marked,
and an export that is the filtered queue with formula-looking cells neutralised."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timezone

import pytest

from service.cases.status import CaseStatus
from service.extensions import db
from tests.fixtures.staff import make_user, sign_in
from tests.fixtures.cases import hours, make_case, treatment
from tests.fixtures.referrals import make_referral


def now() -> datetime:
    return datetime.now(timezone.utc)


def case(age_hours: float = 1, **fields):
    """A case that has had its first response (so it is not overdue) unless told otherwise."""
    fields.setdefault("first_response_at", now())
    made = make_case(age=hours(age_hours), now=now(), **fields)
    db.session.commit()
    return made


def page(client, query: str = "") -> str:
    response = client.get("/staff/cases" + query)
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def table_refs(text: str) -> list[str]:
    body = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in text else ""
    return re.findall(r'<a href="/staff/cases/([^"]+)">', body)


def export(client, query: str = "") -> list[list[str]]:
    response = client.get("/staff/cases.csv" + query)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize("path", ["/staff/cases", "/staff/cases.csv", "/staff/cases?q=x&overdue=y"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.split("?")[0].endswith("/staff/login")


def test_a_disabled_coordinator_loses_access_at_once(client):
    user = make_user()
    sign_in(client, user)
    assert client.get("/staff/cases").status_code == 200
    user.active = False
    db.session.commit()
    assert client.get("/staff/cases").status_code == 302
    assert client.get("/staff/cases.csv").status_code == 302


def test_admins_see_the_queue_too(client):
    sign_in(client, make_user("admin"))
    assert "Cases" in page(client)


def test_with_no_cases_at_all_the_page_says_so(staff_client):
    text = page(staff_client)
    assert "No cases yet" in text
    assert "No cases match these filters" not in text
    assert "Export CSV" not in text


def test_rows_link_to_the_case_file_with_what_triage_needs(staff_client, coordinator):
    mine = case(full_name="Amina Petrova", email="amina@example.org", assignee=coordinator, priority="urgent")
    text = page(staff_client)
    assert table_refs(text) == [mine.reference]
    for shown in ("Amina Petrova", "amina@example.org", coordinator.email, "Urgent", "New", "Kazakhstan"):
        assert shown in text
    assert "1–1 of 1 case" in text


def test_overdue_rows_stand_out_and_can_be_filtered(staff_client):
    late = case(age_hours=30, first_response_at=None)
    fresh = case(age_hours=2, first_response_at=None)
    routed = case(age_hours=80, status=CaseStatus.ROUTED)
    make_referral(routed, age=hours(75), now=now())
    db.session.commit()
    text = page(staff_client)
    rows = {ref: row for ref, row in zip(table_refs(text), text.split("<tbody>")[1].split("<tr")[1:])}
    assert "badge-overdue" in rows[late.reference] and "Overdue by" in rows[late.reference]
    assert "badge-overdue" in rows[routed.reference]
    assert "badge-overdue" not in rows[fresh.reference] and "Due in 21 h" in rows[fresh.reference]
    assert set(table_refs(page(staff_client, "?overdue=y"))) == {late.reference, routed.reference}


def test_filters_search_and_status_tabs(staff_client, coordinator):
    knee = case(treatment=treatment("knee-replacement"), country="DE", full_name="Jonas Weber")
    routed = case(status=CaseStatus.ROUTED, assignee=coordinator, full_name="Амина Петрова")
    make_referral(routed, age=hours(1), now=now(), clinic="spree-limb-clinic-berlin")
    closed = case(status=CaseStatus.CLOSED, closed_reason="spam", full_name="Closed Person")
    db.session.commit()

    assert table_refs(page(staff_client, "?treatment=knee-replacement")) == [knee.reference]
    assert table_refs(page(staff_client, "?country=DE")) == [knee.reference]
    assert table_refs(page(staff_client, "?clinic=spree-limb-clinic-berlin")) == [routed.reference]
    assert table_refs(page(staff_client, "?assignee=mine")) == [routed.reference]
    assert table_refs(page(staff_client, "?assignee=unassigned")) == [knee.reference]
    assert table_refs(page(staff_client, f"?assignee={coordinator.id}")) == [routed.reference]
    assert table_refs(page(staff_client, "?q=петрова")) == [routed.reference]
    assert table_refs(page(staff_client, "?q=" + knee.reference.lower())) == [knee.reference]
    assert closed.reference not in table_refs(page(staff_client))
    assert table_refs(page(staff_client, "?status=closed")) == [closed.reference]

    text = page(staff_client, "?q=example.org&status=routed")
    tabs = text.split('aria-label="Cases by status"')[1].split("</nav>")[0]
    assert re.search(r'href="/staff/cases\?q=example.org">Open <span class="count">2</span>', tabs)
    assert re.search(r'href="/staff/cases\?q=example.org&status=routed" aria-current="page">Sent to clinics <span class="count">1</span>', tabs)
    assert re.search(r'>All <span class="count">3</span>', tabs)
    assert '<input type="hidden" name="status" value="routed">' in text


def test_no_match_has_its_own_empty_state_with_a_way_out(staff_client):
    case()
    text = page(staff_client, "?q=nobody-by-that-name")
    assert "No cases match these filters" in text
    assert "No cases yet" not in text
    assert 'href="/staff/cases">Clear filters</a>' in text


def test_a_bad_filter_value_is_named_and_ignored(staff_client):
    shown = case()
    text = page(staff_client, "?treatment=not-a-treatment&page=zero&status=bogus")
    assert "There is a problem" in text and "Not a valid choice" in text and "Not a known status" in text
    assert table_refs(text) == [shown.reference]


def link(text: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', text)
    return found.group(1) if found else None


def current_page(text: str) -> str:
    return re.search(r'<a href="[^"]*" aria-current="page">(\d+)</a>', text).group(1)


def test_pagination_pages_by_25_and_keeps_the_filters(staff_client):
    for i in range(30):
        case(age_hours=i + 1, full_name=f"Paged {i:02d}")
    case(full_name="Not in the search")
    first = page(staff_client, "?q=paged")
    assert "1–25 of 30 cases" in first and len(table_refs(first)) == 25
    assert re.fullmatch(r"/staff/cases\?q=paged&after=[\w.-]+", link(first, "next"))
    second = page(staff_client, link(first, "next").removeprefix("/staff/cases"))
    assert "26–30 of 30 cases" in second and len(table_refs(second)) == 5 and current_page(second) == "2"
    assert link(second, "prev") == "/staff/cases?q=paged" and link(second, "next") is None
    assert set(table_refs(first)).isdisjoint(table_refs(second))
    assert table_refs(page(staff_client, "?q=paged&page=2")) == table_refs(second)
    assert "26–30 of 30" in page(staff_client, "?q=paged&page=9")


@pytest.mark.parametrize("sort", ["newest", "oldest", "priority", "due"])
def test_next_and_previous_step_by_cursor_through_every_page(staff_client, sort):
    priorities = ("low", "normal", "high", "urgent")
    for i in range(60):
        case(age_hours=i % 17 + 1, priority=priorities[i % 4], first_response_at=None if i % 3 else now())
    numbered = [table_refs(page(staff_client, f"?sort={sort}&page={n}")) for n in (1, 2, 3)]
    text, seen = page(staff_client, f"?sort={sort}"), []
    while True:
        seen.append((current_page(text), table_refs(text)))
        if not link(text, "next"):
            break
        assert "after=" in link(text, "next") and "page=" not in link(text, "next")
        text = page(staff_client, link(text, "next").removeprefix("/staff/cases"))
    assert seen == [("1", numbered[0]), ("2", numbered[1]), ("3", numbered[2])]
    assert "51–60 of 60 cases" in text
    back = page(staff_client, link(text, "prev").removeprefix("/staff/cases"))
    assert "before=" in link(text, "prev")
    assert "26–50 of 60 cases" in back and table_refs(back) == numbered[1] and current_page(back) == "2"
    assert link(back, "prev") == ("/staff/cases" if sort == "newest" else f"/staff/cases?sort={sort}")


def test_filters_tabs_sorts_and_page_numbers_drop_the_cursor(staff_client):
    for i in range(60):
        case(age_hours=i + 1)
    first = page(staff_client, "?country=KZ")
    second = page(staff_client, link(first, "next").removeprefix("/staff/cases"))
    others = [h for h in re.findall(r'href="(/staff/cases[^"]*)"', second) if h != link(second, "next")]
    assert "/staff/cases?status=all&country=KZ" in others and "/staff/cases?country=KZ&page=3" in others
    assert "/staff/cases.csv?country=KZ" in others
    assert not [h for h in others if "after=" in h or "before=" in h]
    form = second.split('role="search"', 1)[1].split("</form>", 1)[0]
    assert 'name="after"' not in form and 'name="before"' not in form and 'name="page"' not in form


@pytest.mark.parametrize("cursor", ["after=garbage", "before=x.y", "after=", "after=%00%FF"])
def test_a_malformed_cursor_shows_page_1(staff_client, cursor):
    for i in range(30):
        case(age_hours=i + 1)
    first = page(staff_client)
    text = page(staff_client, "?page=2&" + cursor)
    assert "1–25 of 30 cases" in text and table_refs(text) == table_refs(first)


def test_a_tampered_cursor_or_one_from_another_sort_shows_page_1(staff_client):
    for i in range(30):
        case(age_hours=i + 1)
    first = page(staff_client)
    token = link(first, "next").split("after=", 1)[1]
    payload, signature = token.rsplit(".", 1)
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    text = page(staff_client, "?after=" + tampered)
    assert "1–25 of 30 cases" in text and table_refs(text) == table_refs(first)
    oldest = page(staff_client, "?sort=oldest&after=" + token)
    assert "1–25 of 30 cases" in oldest and table_refs(oldest) == table_refs(page(staff_client, "?sort=oldest"))


def test_the_export_is_the_filtered_queue_on_every_page(staff_client, coordinator):
    for i in range(30):
        case(age_hours=i + 1, assignee=coordinator, email=f"p{i}@example.org")
    late = case(age_hours=40, first_response_at=None, full_name="Late Patient", email="late@example.org")
    case(status=CaseStatus.CLOSED, closed_reason="spam")
    response = staff_client.get("/staff/cases.csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"

    rows = export(staff_client)
    assert rows[0] == ["reference", "status", "priority", "created_at", "treatment", "country",
                       "assignee", "overdue", "patient name", "email"]
    assert len(rows) == 1 + 31
    by_ref = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert by_ref[late.reference]["overdue"] == "yes"
    assert by_ref[late.reference]["patient name"] == "Late Patient"
    assert by_ref[late.reference]["assignee"] == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", by_ref[late.reference]["created_at"])
    assert {r["assignee"] for ref, r in by_ref.items() if ref != late.reference} == {coordinator.email}

    assert [r[0] for r in export(staff_client, "?overdue=y")[1:]] == [late.reference]
    assert len(export(staff_client, "?status=all")) == 1 + 32


@pytest.mark.parametrize("dangerous", ["=HYPERLINK(\"http://evil\")", "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_export_cells_cannot_run_as_formulas(staff_client, dangerous):
    case(full_name=dangerous, email="x@example.org")
    [header, row] = export(staff_client)
    assert dict(zip(header, row))["patient name"] == "'" + dangerous


def test_the_page_links_the_export_with_the_same_filters(staff_client):
    case(age_hours=30, first_response_at=None)
    text = page(staff_client, "?q=example&overdue=y&page=1&sort=oldest")
    assert 'href="/staff/cases.csv?q=example&overdue=y&sort=oldest"' in text


def test_the_queue_says_what_happens_to_a_new_case_as_auto_route_has_it(app, staff_client, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_ROUTE", True)
    assert "routed to the best-matched clinics as soon as they arrive; a coordinator reviews each one alongside" in page(staff_client)
    monkeypatch.setitem(app.config, "AUTO_ROUTE", False)
    text = page(staff_client)
    assert "Automatic routing is off (AUTO_ROUTE=0): a new case waits for a coordinator to route it" in text
