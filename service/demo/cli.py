"""`flask --app wsgi demo seed`: staff and clinic accounts and realistic cases to try the
staff console, the clinic portal and the patient's status page with."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

import click
from flask import current_app, url_for
from flask.cli import AppGroup

from service.accounts.passwords import MIN_LENGTH
from service.cases.status import CaseStatus
from service.demo.seed import DemoError, SeedReport, seed
from service.extensions import db
from service.outbox import commit

demo_cli = AppGroup("demo", help="Demo data for trying the service.")


def _external(endpoint: str, **values: str) -> str:
    """A link people can open, on BASE_URL like the links workers put in emails."""
    with current_app.test_request_context():
        return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def _summary(report: SeedReport) -> list[str]:
    lines: list[str] = []
    for email in report.created_users:
        lines.append(f"created {email}")
    for email in report.existing_users:
        lines.append(f"{email} already exists; its password was not changed")
    if report.password:
        *others, last = report.created_users
        lines.append(f"password for {', '.join(others) + ' and ' if others else ''}{last}: {report.password}")
        lines.append("  (shown once; it is not stored anywhere in clear)")
    if report.existing_cases:
        lines.append(f"{report.existing_cases} demo cases already exist; no cases were added")
    if report.cases:
        counts = report.statuses
        lines.append(f"{len(report.cases)} demo cases: " + ", ".join(
            f"{counts[s]} {s.staff_label.lower()}" for s in CaseStatus if counts[s]
        ))
    if report.documents:
        lines.append(f"{report.documents} documents (confirmations, dossiers, quotes, booking papers) queued: "
                     "the worker renders them (`make run` starts one; else `flask --app wsgi worker`)")
    lines.append(f"sign in at {_external('staff_auth.login')}")
    if report.clinic_user is not None and report.clinic_user.clinic is not None:
        lines.append(f"clinic portal: sign in as {report.clinic_user.email} ({report.clinic_user.clinic.name}) "
                     f"at {_external('clinic_auth.login')}")
    if report.patient_view is not None:
        case, token = report.patient_view
        lines.append(f"a patient's view of {case.reference} (a question waits for them): {_external('status.show', token=token)}")
    if report.compare_view is not None:
        case, token = report.compare_view
        lines.append(f"a patient with quotes to compare ({case.reference}): {_external('status.show', token=token)}")
    return lines


@demo_cli.command("seed")
@click.option("--password", envvar="DEMO_PASSWORD", help=f"Password for the new demo users (at least {MIN_LENGTH} "
              "characters); a random one is generated and printed when not given.")
def seed_command(password: str | None) -> None:
    """Create coordinator@medtour.example, admin@medtour.example, about 40 cases over the
    last 45 days with the clinics' quotes, and clinic@medtour.example for the clinic with
    the most referrals waiting. Runs once: existing users and demo cases are left as they are."""
    if password is not None and len(password) < MIN_LENGTH:
        raise click.BadParameter(f"use at least {MIN_LENGTH} characters", param_hint="--password")
    try:
        report = seed(
            db.session, password=password or secrets.token_urlsafe(12), now=datetime.now(timezone.utc),
            top_n=current_app.config["ROUTING_TOP_N"],
        )
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    commit()
    for line in _summary(report):
        click.echo(line)
