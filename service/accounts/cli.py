"""`flask --app wsgi users create|list|disable|enable|password|totp|signout`: staff and clinic
accounts from the command line (the first administrator has no other way in)."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from service.accounts import totp
from service.accounts import users as accounts
from service.accounts.roles import ROLES
from service.extensions import db
from service.limits import MAX_COORDINATOR_CAPACITY

users_cli = AppGroup("users", help="Manage staff and clinic accounts.")
# Who the log names as having made a change from here.
ACTOR = "the command line"


def _read_password(from_stdin: bool) -> str:
    """One line from stdin (for scripts), else asked twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _user(email: str):
    try:
        return accounts.get_by_email(email)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc


_password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin instead of asking."
)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@_password_stdin
@click.option("--capacity", type=click.IntRange(0, MAX_COORDINATOR_CAPACITY), default=None,
              help="Open cases auto-assignment may give this coordinator.")
@click.option("--clinic", "clinic_slug", metavar="SLUG", default=None,
              help="The clinic a clinic account belongs to (its slug in the catalogue); clinic role only.")
@click.option("--name", "full_name", metavar="NAME", default=None,
              help="The person's full name, as the visa letters they sign name them.")
def create_command(email: str, role: str, password_stdin: bool, capacity: int | None, clinic_slug: str | None,
                   full_name: str | None) -> None:
    """Create a staff account, or a clinic account (--role clinic --clinic SLUG)."""
    try:
        accounts.check_clinic(role, clinic_slug)
        password = _read_password(password_stdin)
        user = accounts.create_user(email, role, password, capacity=capacity, clinic_slug=clinic_slug, actor=ACTOR,
                                    full_name=full_name)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    if user.clinic is not None:
        click.echo(f"created {user.email} ({user.role} of {user.clinic.name}, {user.clinic.slug})")
    else:
        click.echo(f"created {user.email} ({user.role}, capacity {user.capacity})")


@users_cli.command("list")
def list_command() -> None:
    """Every account: email, role, clinic, active, capacity, last sign-in, second factor."""
    rows = [
        (u.email, u.role, u.clinic.slug if u.clinic else "-", "yes" if u.active else "no", str(u.capacity),
         u.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if u.last_login_at else "never",
         "on" if u.totp_secret else "off")
        for u in accounts.all_users()
    ]
    if not rows:
        click.echo("no staff accounts yet; create one with: flask --app wsgi users create EMAIL --role admin")
        return
    header = ("EMAIL", "ROLE", "CLINIC", "ACTIVE", "CAPACITY", "LAST SIGN-IN", "TOTP")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@users_cli.command("disable")
@click.argument("email")
def disable_command(email: str) -> None:
    """Disable an account; a signed-in user loses access on their next request, and every
    session of theirs ends."""
    user = _user(email)
    accounts.set_active(user, False, actor=ACTOR)
    db.session.commit()
    click.echo(f"disabled {user.email}")


@users_cli.command("enable")
@click.argument("email")
def enable_command(email: str) -> None:
    """Enable an account again (and lift a sign-in lockout)."""
    user = _user(email)
    accounts.set_active(user, True, actor=ACTOR)
    db.session.commit()
    click.echo(f"enabled {user.email}")


@users_cli.command("password")
@click.argument("email")
@_password_stdin
def password_command(email: str, password_stdin: bool) -> None:
    """Set a new password (and lift a sign-in lockout); every session of the user ends."""
    user = _user(email)
    try:
        accounts.set_password(user, _read_password(password_stdin), actor=ACTOR)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"password set for {user.email}")


@users_cli.command("totp")
@click.argument("email")
@click.option("--replace", is_flag=True, help="Issue a new secret even if one is enrolled (a lost phone).")
def totp_command(email: str, replace: bool) -> None:
    """Enrol a TOTP second factor and print what the authenticator app needs; every
    session of the user ends."""
    user = _user(email)
    try:
        secret = accounts.enrol_totp(user, replace=replace, actor=ACTOR)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"second factor enrolled for {user.email}; add it to their authenticator app:")
    click.echo(f"  {totp.provisioning_uri(secret, user.email)}")
    click.echo(f"  (or type the key: {secret})")


@users_cli.command("signout")
@click.argument("email")
def signout_command(email: str) -> None:
    """Sign a user out everywhere: every session of theirs ends (a lost laptop)."""
    user = _user(email)
    ended = accounts.sign_out_everywhere(user, actor=ACTOR)
    db.session.commit()
    click.echo(f"signed out {user.email} everywhere ({ended} session{'' if ended == 1 else 's'} ended)")
