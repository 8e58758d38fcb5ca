"""The authorisation table: every staff route × anonymous, coordinator, admin and a
disabled user → the expected answer. A route added under /staff without a row here
fails `test_the_table_covers_every_staff_route`."""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from service.accounts.roles import ADMIN, CLINIC, COORDINATOR
from service.extensions import db
from service.models import Case, Clinic, Document, User
from tests.fixtures import files
from tests.fixtures.cases import submit
from tests.fixtures.forms import upload
from tests.fixtures.staff import make_user, sign_in

ROLES = ("anonymous", "coordinator", "admin", "disabled", "clinic")
# An expected answer: a status code, or LOGIN (a redirect to the sign-in page).
LOGIN = "login"


@dataclass(frozen=True)
class World:
    case: Case
    attachment_id: int
    document_id: int
    target: User

    @property
    def ref(self) -> str:
        return self.case.reference


@dataclass(frozen=True)
class Row:
    method: str
    rule: str
    path: Callable[[World], str]
    expected: dict[str, int | str]
    data: Callable[[World], dict[str, Any]] = lambda w: {}


def _expect(
    anonymous: int | str, coordinator: int | str, admin: int | str, disabled: int | str, clinic: int | str = 403,
) -> dict[str, int | str]:
    """A clinic user is signed in but no staff: refused (403) unless the row says otherwise."""
    return dict(zip(ROLES, (anonymous, coordinator, admin, disabled, clinic)))


CASES = _expect(LOGIN, 200, 200, LOGIN)
REDIRECTED = _expect(LOGIN, 303, 303, LOGIN)
ADMIN_ONLY = _expect(LOGIN, 403, 303, LOGIN)

# Ordered so that nothing a row changes is needed by a later one; sign-out comes last.
TABLE: tuple[Row, ...] = (
    Row("GET", "/staff/", lambda w: "/staff/", _expect(LOGIN, 302, 302, LOGIN)),
    Row("GET", "/staff/cases", lambda w: "/staff/cases", CASES),
    Row("GET", "/staff/cases.csv", lambda w: "/staff/cases.csv", CASES),
    Row("GET", "/staff/cases/<reference>", lambda w: f"/staff/cases/{w.ref}", CASES),
    Row("GET", "/staff/cases/<reference>/audit.csv", lambda w: f"/staff/cases/{w.ref}/audit.csv",
        _expect(LOGIN, 403, 200, LOGIN)),
    Row("GET", "/staff/cases/<reference>/attachments/<int:attachment_id>",
        lambda w: f"/staff/cases/{w.ref}/attachments/{w.attachment_id}", REDIRECTED),
    Row("GET", "/staff/cases/<reference>/attachments/<int:attachment_id>/preview",
        lambda w: f"/staff/cases/{w.ref}/attachments/{w.attachment_id}/preview", CASES),
    Row("GET", "/staff/cases/<reference>/documents/<int:document_id>",
        lambda w: f"/staff/cases/{w.ref}/documents/{w.document_id}", REDIRECTED),
    Row("POST", "/staff/cases/<reference>/actions/<action>",
        lambda w: f"/staff/cases/{w.ref}/actions/add_note", REDIRECTED,
        lambda w: {"version": _version(w.case), "body": "Called the patient back."}),
    Row("GET", "/staff/dashboard", lambda w: "/staff/dashboard", CASES),
    Row("GET", "/staff/catalogue", lambda w: "/staff/catalogue", _expect(LOGIN, 403, 200, LOGIN)),
    Row("POST", "/staff/catalogue/<slug>", lambda w: "/staff/catalogue/bosphorus-ortho-istanbul", ADMIN_ONLY,
        lambda w: {"capacity": "9", "accepting": "y"}),
    Row("GET", "/staff/users", lambda w: "/staff/users", _expect(LOGIN, 403, 200, LOGIN)),
    Row("POST", "/staff/users", lambda w: "/staff/users", ADMIN_ONLY,
        lambda w: {"email": "new.coordinator@medtour.example", "role": COORDINATOR,
                   "password": "a long enough password", "capacity": "12"}),
    Row("POST", "/staff/users/<int:user_id>/capacity", lambda w: f"/staff/users/{w.target.id}/capacity",
        ADMIN_ONLY, lambda w: {"capacity": "7"}),
    Row("POST", "/staff/users/<int:user_id>/disable", lambda w: f"/staff/users/{w.target.id}/disable", ADMIN_ONLY),
    Row("POST", "/staff/users/<int:user_id>/enable", lambda w: f"/staff/users/{w.target.id}/enable", ADMIN_ONLY),
    # Sign-in pages: open to everyone; a signed-in user is sent on to the console.
    # (A clinic user is sent to the clinic portal's sign-in, which sends them on to their referrals.)
    Row("GET", "/staff/login", lambda w: "/staff/login", _expect(200, 302, 302, 200, 302)),
    Row("POST", "/staff/login", lambda w: "/staff/login", _expect(422, 302, 302, 422, 302)),
    Row("GET", "/staff/login/code", lambda w: "/staff/login/code", _expect(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)),
    Row("POST", "/staff/login/code", lambda w: "/staff/login/code", _expect(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)),
    Row("POST", "/staff/logout", lambda w: "/staff/logout", _expect(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)),
)


def _version(case: Case) -> int:
    db.session.refresh(case)
    return case.version


def _answer(response) -> int | str:
    if response.status_code in (302, 303) and urlsplit(response.location).path == "/staff/login":
        return LOGIN
    return response.status_code


@pytest.fixture
def world(client, storage) -> World:
    case = submit(client, files=[upload(files.png(), "knee.png")])
    key = f"cases/{case.id}/documents/confirmation.pdf"
    stored = storage.put(key, io.BytesIO(files.pdf()), content_type="application/pdf", filename="c.pdf")
    document = Document(case_id=case.id, kind="confirmation", slot="confirmation", language="en",
                        storage_key=key, size=stored.size, sha256=stored.sha256, pages=1)
    db.session.add(document)
    db.session.commit()
    return World(case, case.attachments[0].id, document.id, make_user(COORDINATOR))


def _signed_in_as(client, role: str) -> None:
    if role == "anonymous":
        return
    if role == "clinic":
        sign_in(client, make_user(CLINIC, clinic_id=db.session.scalars(select(Clinic.id)).first()))
        return
    user = make_user(COORDINATOR if role in ("coordinator", "disabled") else ADMIN)
    sign_in(client, user)
    if role == "disabled":
        user.active = False
        db.session.commit()


def test_the_table_covers_every_staff_route(app):
    served = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/staff")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert {(row.method, row.rule) for row in TABLE} == served


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_route_answers_each_kind_of_user_as_the_table_says(client, world, role):
    _signed_in_as(client, role)
    answers = {}
    for row in TABLE:
        response = client.open(row.path(world), method=row.method, data=row.data(world))
        answers[(row.method, row.path(world))] = _answer(response)
    expected = {(row.method, row.path(world)): row.expected[role] for row in TABLE}
    assert answers == expected
