"""The audit export of one case (`/staff/cases/<reference>/audit.csv`), for a
data-subject request: every event of the case in time order with who did it, cells
safe from spreadsheet formulas, admins only, and the export itself recorded."""
from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select

from service.accounts.roles import ADMIN, COORDINATOR
from service.cases import events
from service.extensions import db
from service.models import CaseEvent
from tests.fixtures.cases import submit
from tests.fixtures.staff import make_user, sign_in


def _events(case) -> list[CaseEvent]:
    return list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def test_the_export_lists_the_cases_events_in_order_and_records_itself(client):
    case = submit(client)
    other = submit(client)
    events.record_event(case, "staff:coord@medtour.example", "note", body="=HYPERLINK(\"http://evil\")")
    events.record_event(other, "staff:coord@medtour.example", "note", body="not this case")
    db.session.commit()
    before = _events(case)
    admin = make_user(ADMIN)
    sign_in(client, admin)

    response = client.get(f"/staff/cases/{case.reference}/audit.csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "private, no-store"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0] == ["when", "who", "what", "description", "details"]
    body = table[1:]
    assert [(row[1], row[2]) for row in body] == [(e.actor, e.kind) for e in before]
    assert [row[0] for row in body] == [e.created_at.isoformat() for e in before]
    note = body[-1]
    assert note[3].startswith("Note: =HYPERLINK")  # "Note: " first, nothing to neutralise
    assert json.loads(note[4]) == {"body": "=HYPERLINK(\"http://evil\")"}
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in body for cell in row)
    assert "not this case" not in response.get_data(as_text=True)
    # The export is itself on the timeline, once, naming who took it.
    exported = [e for e in _events(case) if e.kind == "audit_exported"]
    assert [e.actor for e in exported] == [f"staff:{admin.email}"]


def test_a_cell_starting_with_a_formula_is_neutralised(client):
    case = submit(client)
    events.record_event(case, "=cmd|' /C calc'!A0", "note", body="x")
    db.session.commit()
    sign_in(client, make_user(ADMIN))
    table = list(csv.reader(io.StringIO(client.get(f"/staff/cases/{case.reference}/audit.csv").get_data(as_text=True))))
    assert table[-1][1] == "'=cmd|' /C calc'!A0"


def test_coordinators_are_refused_and_nothing_is_recorded(client):
    case = submit(client)
    sign_in(client, make_user(COORDINATOR))
    assert client.get(f"/staff/cases/{case.reference}/audit.csv").status_code == 403
    assert "audit.csv" not in client.get(f"/staff/cases/{case.reference}").text
    assert [e for e in _events(case) if e.kind == "audit_exported"] == []


def test_admins_see_the_link_on_the_case_file(client):
    case = submit(client)
    sign_in(client, make_user(ADMIN))
    assert f"/staff/cases/{case.reference}/audit.csv" in client.get(f"/staff/cases/{case.reference}").text
