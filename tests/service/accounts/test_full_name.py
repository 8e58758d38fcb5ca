"""A staff member's full name (the coordinator who signs the visa letters): given on
`flask users create --name`, on the admin's users page when adding a user, and edited
there; blank is no name, too long is refused with a reason."""
from __future__ import annotations

from sqlalchemy import select

from service.accounts.roles import ADMIN, COORDINATOR
from service.extensions import db
from service.models import User
from tests.fixtures.staff import PASSWORD, make_user, sign_in


def user(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def test_the_cli_takes_a_name(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "marta@medtour.example", "--role", "coordinator",
                                 "--password-stdin", "--name", "  Marta   Kowalska "], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert user("marta@medtour.example").full_name == "Marta Kowalska"
    refused = runner.invoke(args=["users", "create", "long@medtour.example", "--role", "coordinator",
                                  "--password-stdin", "--name", "x" * 121], input=PASSWORD + "\n")
    assert refused.exit_code != 0 and "at most 120 characters" in refused.output
    assert user("long@medtour.example") is None


def test_the_admin_adds_and_edits_a_name(client):
    admin = make_user(ADMIN)
    coordinator = make_user(COORDINATOR)
    db.session.commit()
    sign_in(client, admin)
    created = client.post("/staff/users", data={"email": "new@medtour.example", "full_name": "Elena Hoffmann",
                                                "role": "coordinator", "clinic": "", "password": PASSWORD,
                                                "capacity": "5"})
    assert created.status_code == 303, created.get_data(as_text=True)[:500]
    assert user("new@medtour.example").full_name == "Elena Hoffmann"

    assert client.post(f"/staff/users/{coordinator.id}/name", data={"full_name": "Jonas Weber"}).status_code == 303
    assert user(coordinator.email).full_name == "Jonas Weber"
    page = client.get("/staff/users").get_data(as_text=True)
    assert 'value="Jonas Weber"' in page and 'value="Elena Hoffmann"' in page
    client.post(f"/staff/users/{coordinator.id}/name", data={"full_name": "y" * 121})
    assert user(coordinator.email).full_name == "Jonas Weber"
    assert "at most 120 characters" in client.get("/staff/users").get_data(as_text=True)
    client.post(f"/staff/users/{coordinator.id}/name", data={"full_name": "   "})
    assert user(coordinator.email).full_name is None
